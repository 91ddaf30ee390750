#include "core/memory.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <limits>

#include "core/check.hpp"

namespace subq {

namespace {

std::int64_t meminfo_available() {
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  std::int64_t kib = 0;
  while (meminfo >> key) {
    if (key == "MemAvailable:" && meminfo >> kib) return kib * 1024;
    meminfo.ignore(1 << 10, '\n');
  }
  return 0;
}

// A number in a control group's file ("max" or a missing file: none).
std::int64_t cgroup_value(const char* path) {
  std::ifstream in(path);
  std::int64_t value = 0;
  return in >> value ? value : std::numeric_limits<std::int64_t>::max();
}

// What the process's control group still allows: its limit less its usage.
std::int64_t cgroup_headroom() {
  const std::int64_t none = std::numeric_limits<std::int64_t>::max();
  for (const auto& [limit, usage] :
       {std::pair{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"},
        std::pair{"/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"}}) {
    const std::int64_t cap = cgroup_value(limit);
    // v1 says "no limit" as a number near 2^63 rounded to pages.
    if (cap == none || cap >= (std::int64_t(1) << 62)) continue;
    const std::int64_t used = cgroup_value(usage);
    return used == none ? cap : std::max<std::int64_t>(cap - used, 0);
  }
  return none;
}

}  // namespace

std::int64_t available_memory_bytes() {
  const std::int64_t system = meminfo_available(), group = cgroup_headroom();
  return system == 0 ? (group == std::numeric_limits<std::int64_t>::max() ? 0 : group) : std::min(system, group);
}

std::int64_t saturated_bytes(double bytes) {
  // 2^63 is exact in double; anything from it up does not fit.
  return bytes >= 0x1p63 ? std::numeric_limits<std::int64_t>::max() : std::int64_t(bytes);
}

std::string format_bytes(double bytes) {
  static const char* const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  int u = 0;
  while (bytes >= 1024 && u < 6) bytes /= 1024, ++u;
  return u == 0 ? fmt::format("{:.0f} B", bytes) : fmt::format("{:.1f} {}", bytes, units[u]);
}

void check_memory(const std::string& what, std::int64_t needed, std::int64_t limit) {
  if (needed <= limit) return;
  const std::int64_t available = available_memory_bytes();
  SUBQ_FAIL(
      "{}: about {} needed, more than the memory limit of {} ({} available); --max-memory (LoadOptions::max_memory) "
      "sets the limit",
      what, format_bytes(double(needed)), format_bytes(double(limit)),
      available > 0 ? format_bytes(double(available)) : "unknown");
}

}  // namespace subq
