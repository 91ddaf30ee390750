#include <catch2/catch.hpp>

#include "core/error.hpp"
#include "core/memory.hpp"

using namespace subq;

TEST_CASE("memory: byte counts read as a person writes them", "[core][memory]") {
  CHECK(format_bytes(12) == "12 B");
  CHECK(format_bytes(640 * 1024) == "640.0 KiB");
  CHECK(format_bytes(1.5 * (1 << 30)) == "1.5 GiB");
  CHECK(format_bytes(3.0 * (std::int64_t(1) << 50)) == "3.0 PiB");
}

TEST_CASE("memory: a need over the limit is an error with the estimate and what is available", "[core][memory]") {
  CHECK_NOTHROW(check_memory("run", 100, 100));
  CHECK_THROWS_AS(check_memory("run", 101, 100), Error);
  CHECK_THROWS_WITH(check_memory("the run", std::int64_t(3) << 30, std::int64_t(1) << 30),
                    Catch::Contains("the run: about 3.0 GiB needed, more than the memory limit of 1.0 GiB (") &&
                        Catch::Contains(" available); --max-memory"));
#if defined(__linux__)
  CHECK(available_memory_bytes() > 0);  // /proc/meminfo's MemAvailable
#endif
}
