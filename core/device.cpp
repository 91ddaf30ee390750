#include "core/device.hpp"

#include "core/check.hpp"
#include "core/cuda_runtime.hpp"

namespace subq {

std::string to_string(Device device) {
  return device.is_cpu() ? std::string("cpu") : fmt::format("cuda:{}", device.index);
}

Device parse_device(const std::string& text) {
  if (text == "cpu") return Device::cpu();
  if (text == "cuda") return Device::cuda(0);
  if (text.rfind("cuda:", 0) == 0) {
    const std::string index = text.substr(5);
    SUBQ_CHECK(!index.empty() && index.size() < 4 && index.find_first_not_of("0123456789") == std::string::npos,
               "device '{}': expected cpu, cuda or cuda:N", text);
    return Device::cuda(std::stoi(index));
  }
  SUBQ_FAIL("device '{}': expected cpu, cuda or cuda:N", text);
}

bool cuda_available() {
  if constexpr (build::cuda)
    return detail::cuda_device_usable();
  else
    return false;
}

std::string cuda_status() {
  if constexpr (build::cuda)
    return detail::cuda_device_status();
  else
    return "this build of subq has no CUDA backend (configured with SUBQ_CUDA=OFF or without nvcc)";
}

// What the compiler was allowed to use for this file, as for the rest of the library.
std::string cpu_isa() {
#if defined(__x86_64__)
  std::string isa = "x86-64";
#elif defined(__aarch64__)
  std::string isa = "aarch64";
#else
  std::string isa = "unknown architecture";
#endif
#ifdef __SSE4_2__
  isa += " sse4.2";
#endif
#ifdef __AVX2__
  isa += " avx2";
#endif
#ifdef __FMA__
  isa += " fma";
#endif
#ifdef __AVX512F__
  isa += " avx512f";
#endif
  return isa;
}

void synchronize(Device device) {
  if (device.is_cuda()) on_cuda("synchronize", device, [&] { detail::cuda_synchronize(device); });
}

}  // namespace subq
