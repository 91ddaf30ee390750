// libFuzzer target: any byte string given to the safetensors parser either is rejected with
// subq::Error or yields tensors whose every byte can be read (ASan checks the bounds). Every
// int8 or uint8 matrix is also read as a quantised matrix (codes and `.scales`, the layout of
// subq quantize), which either fails with subq::Error or packs blocks that read back as floats.
#include <cstdint>
#include <cstring>
#include <memory>

#include "core/checkpoint.hpp"
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
      const std::size_t n = subq::storage_bytes(t.dtype(), t.numel());
      for (std::size_t i = 0; i < n; ++i) sink = sink + bytes[i];
      if (subq::is_floating(t.dtype())) (void)file.get(name, subq::DType::F32);
    }
    for (const auto& name : file.names()) {
      const subq::TensorInfo& info = file.info(name);
      if (info.shape.size() != 2 || (info.dtype != subq::DType::I8 && info.dtype != subq::DType::U8)) continue;
      const bool q8 = info.dtype == subq::DType::I8;
      try {
        const subq::Tensor m = subq::read_quantized_matrix(file, name, q8 ? subq::DType::Q8_0 : subq::DType::Q4_0,
                                                           {info.shape[0], q8 ? info.shape[1] : 2 * info.shape[1]});
        const subq::Tensor widened = m.to(subq::DType::F32);
        for (std::int64_t i = 0; i < widened.numel(); ++i) sink = sink + (widened.data<float>()[i] > 0);
      } catch (const subq::Error&) {
      }
    }
  } catch (const subq::Error&) {
  }
  return 0;
}
