#include <catch2/catch.hpp>

#include <atomic>
#include <vector>

#include "core/error.hpp"
#include "core/thread_pool.hpp"

using namespace subq;

TEST_CASE("thread pool: every index runs exactly once", "[core][threads]") {
  for (int threads : {1, 2, 3, 8}) {
    ThreadPool pool(threads);
    for (std::int64_t n : {0, 1, 2, 7, 1000}) {
      std::vector<std::atomic<int>> hits(static_cast<std::size_t>(n));
      for (int repeat = 0; repeat < 3; ++repeat)
        pool.parallel_for(n, [&](std::int64_t b, std::int64_t e) {
          for (std::int64_t i = b; i < e; ++i) hits[std::size_t(i)]++;
        });
      for (auto& h : hits) CHECK(h.load() == 3);
    }
  }
}

TEST_CASE("thread pool: exceptions reach the caller and nested loops run serially", "[core][threads]") {
  ThreadPool pool(4);
  CHECK_THROWS_WITH(pool.parallel_for(100,
                                      [](std::int64_t b, std::int64_t) {
                                        if (b > 0) throw Error("boom");
                                      }),
                    "boom");
  std::atomic<int> total{0};
  pool.parallel_for(4, [&](std::int64_t b, std::int64_t e) {
    pool.parallel_for(10, [&](std::int64_t ib, std::int64_t ie) { total += int((ie - ib) * (e - b)); });
  });
  CHECK(total == 40);
}

TEST_CASE("thread pool: SUBQ_NUM_THREADS is validated", "[core][threads]") {
  CHECK(threads_from_env("3") == 3);
  CHECK(threads_from_env(nullptr) >= 1);
  CHECK_THROWS_WITH(threads_from_env("0"), Catch::Contains("SUBQ_NUM_THREADS='0'"));
  CHECK_THROWS_WITH(threads_from_env("two"), Catch::Contains("positive integer"));
  CHECK_THROWS_AS(ThreadPool(0), Error);
}
