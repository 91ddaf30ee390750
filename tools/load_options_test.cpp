#include <catch2/catch.hpp>
#include <limits>

#include "core/error.hpp"
#include "tools/load_options.hpp"

using subq::tools::memory_limit;

TEST_CASE("load options: --max-memory sizes", "[tools][memory]") {
  CHECK(memory_limit("") == std::nullopt);
  CHECK(memory_limit("none") == std::numeric_limits<std::int64_t>::max());
  CHECK(memory_limit("4096") == 4096);
  CHECK(memory_limit("512M") == std::int64_t(512) << 20);
  CHECK(memory_limit("24GiB") == std::int64_t(24) << 30);
  CHECK(memory_limit("1.5T") == std::int64_t(3) << 39);
  CHECK(memory_limit("2KB") == 2048);
  for (const char* bad : {"12X", "G", "-1G", "0", "nan", "1e400"})
    CHECK_THROWS_WITH(memory_limit(bad), Catch::Contains("expected a size such as 512M, 24G or 1.5T"));
}
