#include <catch2/catch.hpp>
#include <vector>

#include "core/block_cache.hpp"

using subq::detail::BlockCache;

namespace {

std::vector<void*> freed;  // what the cache under test returned to the "system"

void record_free(void* ptr, int) { freed.push_back(ptr); }

}  // namespace

TEST_CASE("block cache: a given block is taken again by its device and size only", "[core][block_cache]") {
  freed.clear();
  BlockCache cache(record_free, 1000);
  int a = 0, b = 0;
  cache.give(&a, 100, 0);
  cache.give(&b, 100, 1);
  CHECK(cache.take(200, 0) == nullptr);
  CHECK(cache.take(100, 0) == &a);
  CHECK(cache.take(100, 0) == nullptr);
  CHECK(cache.take(100, 1) == &b);
  CHECK(cache.held() == 0);
  CHECK(freed.empty());
}

TEST_CASE("block cache: a full cache frees its longest kept blocks for a new one", "[core][block_cache]") {
  freed.clear();
  BlockCache cache(record_free, 100);
  int oldest = 0, older = 0, newest = 0, too_big = 0;
  cache.give(&oldest, 40, 0);
  cache.give(&older, 40, 0);
  cache.give(&newest, 50, 0);  // 130 > 100: the oldest goes
  CHECK(freed == std::vector<void*>{&oldest});
  CHECK(cache.held() == 90);
  cache.give(&too_big, 101, 0);  // more than the cache holds: freed at once, the rest kept
  CHECK(freed == std::vector<void*>{&oldest, &too_big});
  CHECK(cache.take(50, 0) == &newest);
  CHECK(cache.take(40, 0) == &older);
  cache.release();
  CHECK(cache.held() == 0);
}

TEST_CASE("block cache: release frees every kept block", "[core][block_cache]") {
  freed.clear();
  BlockCache cache(record_free, 1000);
  int a = 0, b = 0;
  cache.give(&a, 10, 0);
  cache.give(&b, 10, 0);
  cache.release();
  CHECK(freed.size() == 2);
  CHECK(cache.take(10, 0) == nullptr);
}
