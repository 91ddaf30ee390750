#pragma once
// Where a tensor's memory lives.
#include <string>

namespace subq {

enum class DeviceKind { CPU, CUDA };

struct Device {
  DeviceKind kind = DeviceKind::CPU;
  int index = 0;

  static Device cpu() { return {}; }
  static Device cuda(int index = 0) { return {DeviceKind::CUDA, index}; }
  bool is_cpu() const { return kind == DeviceKind::CPU; }
  bool is_cuda() const { return kind == DeviceKind::CUDA; }
  friend bool operator==(const Device&, const Device&) = default;
};

/// "cpu" or "cuda:0".
std::string to_string(Device device);
/// Parses "cpu", "cuda" or "cuda:N"; throws subq::Error naming the text otherwise.
Device parse_device(const std::string& text);

/// True when this build has the CUDA backend and a CUDA device can be used.
bool cuda_available();
/// Waits until all work queued on the device is done (no-op on the CPU).
void synchronize(Device device);
/// Why CUDA is or is not usable, in words (for skip messages and errors).
std::string cuda_status();

/// The CPU instruction sets this build of the library was compiled for, e.g. "x86-64 sse4.2 avx2
/// fma avx512f" (SUBQ_NATIVE: this machine's; otherwise the portable baseline).
std::string cpu_isa();

}  // namespace subq
