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

void synchronize(Device device) {
  if (device.is_cuda()) on_cuda("synchronize", device, [&] { detail::cuda_synchronize(device); });
}

}  // namespace subq
