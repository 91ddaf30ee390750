#pragma once
// The --device option of the subq commands: a device this process can use, else an error saying
// why (for CUDA: no backend in this build, or no usable GPU).
#include <string>

#include "core/check.hpp"
#include "core/device.hpp"

namespace subq::tools {

inline Device usable_device(const std::string& option) {
  const Device device = parse_device(option);
  SUBQ_CHECK(device.is_cpu() || cuda_available(), "--device {}: {}", option, cuda_status());
  return device;
}

}  // namespace subq::tools
