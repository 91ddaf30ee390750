#pragma once
// Peak resident memory of one run, not of the whole process: Linux lets a process reset its
// high-water mark (VmHWM) by writing 5 to /proc/self/clear_refs, so a run's peak is the mark read
// after it, counting from what was resident when it started. Where the reset is refused, the
// peak is the process's, and peak_memory_is_per_run() says so.
#include <cstdint>
#include <fstream>
#include <string>

#include "core/tensor.hpp"
#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace subq::bench {

/// Gives memory freed so far back to the system: subq's block cache and glibc keep it resident
/// otherwise.
inline void release_freed_memory() {
  release_cached_memory();
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}

/// Starts a new run: its peak counts from what is resident now. Returns whether the reset worked.
/// Memory freed by earlier runs goes back to the system first (a run reusing it would show no peak).
inline bool reset_peak_memory() {
  release_freed_memory();
  std::ofstream clear("/proc/self/clear_refs");
  return static_cast<bool>(clear << "5" << std::flush);
}

inline bool peak_memory_is_per_run() {
  static const bool works = reset_peak_memory();
  return works;
}

/// A field of /proc/self/status ("VmHWM", "VmRSS") in bytes; 0 where it cannot be read.
inline double process_memory_bytes(const std::string& field) {
  std::ifstream status("/proc/self/status");
  std::string key;
  double kib = 0;
  while (status >> key) {
    if (key == field + ":") {
      status >> kib;
      return kib * 1024;
    }
    status.ignore(1 << 10, '\n');
  }
  return 0;
}

/// The peak resident bytes since the last reset_peak_memory().
inline double peak_memory_bytes() { return process_memory_bytes("VmHWM"); }

/// One run's peak resident memory: from construction on, above what was resident then (so the
/// inputs made after it count). Where the reset is refused, the process's peak.
class RunPeakMemory {
 public:
  RunPeakMemory() : per_run_(reset_peak_memory()), resident_(per_run_ ? process_memory_bytes("VmRSS") : 0.0) {}
  bool per_run() const { return per_run_; }
  double bytes() const { return peak_memory_bytes() - resident_; }

 private:
  bool per_run_;
  double resident_;
};

}  // namespace subq::bench
