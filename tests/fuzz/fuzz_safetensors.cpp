// libFuzzer target: any byte string given to the safetensors parser either is rejected with
// subq::Error or yields tensors whose every byte can be read (ASan checks the bounds).
#include <cstdint>
#include <cstring>
#include <memory>

#include "core/safetensors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // Exactly `size` bytes on the heap, so a read past the end is an ASan error.
  auto* copy = new std::uint8_t[size ? size : 1];
  if (size) std::memcpy(copy, data, size);
  auto storage = std::make_shared<subq::Storage>(copy, size, subq::Device::cpu(), [copy] { delete[] copy; });
  try {
    const subq::SafetensorsFile file = subq::SafetensorsFile::parse(storage, "fuzz input");
    volatile std::uint8_t sink = 0;
    for (const auto& name : file.names()) {
      const subq::Tensor t = file.get(name);
      const auto* bytes = static_cast<const std::uint8_t*>(t.raw_data());
      const std::size_t n = std::size_t(t.numel()) * subq::dtype_size(t.dtype());
      for (std::size_t i = 0; i < n; ++i) sink = sink + bytes[i];
      if (subq::is_floating(t.dtype())) (void)file.get(name, subq::DType::F32);
    }
  } catch (const subq::Error&) {
  }
  return 0;
}
