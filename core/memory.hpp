#pragma once
// Memory this process may still use, and the limit a run is checked against before it
// allocates: a run refused with its estimate is better than one the kernel kills halfway.
#include <cstdint>
#include <string>

namespace subq {

/// Bytes the process can still allocate: the system's MemAvailable, or less where a control
/// group (v2 memory.max, v1 memory.limit_in_bytes) caps the process below it. 0 where unknown.
std::int64_t available_memory_bytes();

/// A byte count summed or scaled in double (where int64 could overflow) as int64, saturating at
/// its largest value.
std::int64_t saturated_bytes(double bytes);

/// "1.5 GiB", "640 KiB", "12 B": bytes for a message.
std::string format_bytes(double bytes);

/// Throws subq::Error when `needed` bytes exceed `limit`, saying what needs them (`what`), the
/// estimate, the limit, what is available and how to change the limit.
void check_memory(const std::string& what, std::int64_t needed, std::int64_t limit);

}  // namespace subq
