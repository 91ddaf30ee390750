#pragma once
// A small strided tensor: shape, strides (in elements), dtype and device over shared storage.
// Views (view, slice, select, transpose, permute, expand) share the storage; contiguous(),
// clone() and to() copy.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "device.hpp"
#include "dtype.hpp"
#include "error.hpp"

namespace subq {

using Shape = std::vector<std::int64_t>;

/// "[2, 3, 4]".
std::string to_string(const Shape& shape);
/// Product of the extents; throws subq::Error on a negative extent or on overflow.
std::int64_t shape_numel(const Shape& shape);

/// Bytes on one device, freed by a release function when the last tensor lets go of them.
/// External memory (a memory-mapped file, a caller's buffer) is wrapped with its own release.
class Storage {
 public:
  Storage(void* data, std::size_t bytes, Device device, std::function<void()> release);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  static std::shared_ptr<Storage> allocate(std::size_t bytes, Device device);

  void* data() const { return data_; }
  std::size_t bytes() const { return bytes_; }
  Device device() const { return device_; }

 private:
  void* data_;
  std::size_t bytes_;
  Device device_;
  std::function<void()> release_;
};

/// Freed tensor memory is kept for reuse: host blocks of 64 KiB and more (up to 256 MiB in all;
/// fresh pages would fault in one by one), and every CUDA block (cudaMalloc synchronises the
/// device). This gives it back to the system.
void release_cached_memory();

/// Bytes of host tensor storage in use now, and the most in use since reset_host_peak_bytes()
/// (every thread's tensors together): what a run's activations and states take, for estimating a
/// longer one (LanguageModel::estimate_forward_bytes).
std::int64_t host_bytes_in_use();
std::int64_t host_peak_bytes();
void reset_host_peak_bytes();

class Tensor {
 public:
  Tensor() = default;  // undefined: no storage; defined() is false

  static Tensor empty(const Shape& shape, DType dtype, Device device = Device::cpu());
  static Tensor zeros(const Shape& shape, DType dtype, Device device = Device::cpu());
  /// A contiguous tensor over existing storage, starting byte_offset bytes in.
  static Tensor from_storage(std::shared_ptr<Storage> storage, std::size_t byte_offset, const Shape& shape,
                             DType dtype);
  template <class T>
  static Tensor from_vector(const std::vector<T>& values, const Shape& shape) {
    Tensor t = empty(shape, dtype_of<T>);
    if (std::int64_t(values.size()) != t.numel())
      throw Error("Tensor::from_vector: shape " + to_string(shape) + " holds " + std::to_string(t.numel()) +
                  " elements, found " + std::to_string(values.size()) + " values");
    std::copy(values.begin(), values.end(), t.data<T>());
    return t;
  }

  bool defined() const { return storage_ != nullptr; }
  const Shape& shape() const { return shape_; }
  const Shape& strides() const { return strides_; }
  int dim() const { return int(shape_.size()); }
  /// Extent of dimension d; negative d counts from the end.
  std::int64_t size(int d) const;
  std::int64_t stride(int d) const;
  std::int64_t numel() const;
  DType dtype() const { return dtype_; }
  Device device() const;
  bool is_contiguous() const;
  const std::shared_ptr<Storage>& storage() const { return storage_; }
  /// Offset of element [0, ..., 0] in the storage, in elements.
  std::int64_t offset() const { return offset_; }

  /// Typed pointer to element [0, ..., 0]; throws when T does not match the dtype.
  template <class T>
  T* data() const {
    if (dtype_of<T> != dtype_)
      throw Error("Tensor::data: tensor holds " + std::string(dtype_name(dtype_)) + ", accessed as " +
                  std::string(dtype_name(dtype_of<T>)));
    return static_cast<T*>(raw_data());
  }
  void* raw_data() const;

  /// Same elements, new shape (one extent may be -1); needs a contiguous tensor.
  Tensor view(const Shape& shape) const;
  /// Elements [start, end) along dimension d.
  Tensor slice(int d, std::int64_t start, std::int64_t end) const;
  /// Index i of dimension d, which is removed.
  Tensor select(int d, std::int64_t i) const;
  Tensor transpose(int d0, int d1) const;
  Tensor permute(const std::vector<int>& order) const;
  /// Broadcast extents of 1 to shape (stride 0), without copying.
  Tensor expand(const Shape& shape) const;

  /// This tensor if contiguous, else a contiguous copy on the same device.
  Tensor contiguous() const;
  Tensor clone() const;
  /// Copies src's elements into this tensor in place: same shape and dtype, both contiguous,
  /// any devices.
  void copy_from(const Tensor& src) const;
  /// A copy on another device (this tensor when already there).
  Tensor to(Device device) const;
  /// A copy with elements converted (this tensor when already of that dtype). On a GPU, between
  /// the floating dtypes (float32, float64, bfloat16, float16); on the CPU also to and from the
  /// block formats q8_0 and q4_0 (contiguous rows, rounding as llama.cpp's reference does).
  Tensor to(DType dtype) const;

 private:
  int wrap_dim(int d, const char* what) const;
  Tensor converted_copy(DType dtype) const;  // CPU: contiguous copy with elements converted
  Tensor requantized_copy(DType dtype) const;  // converted_copy to or from a block format

  std::shared_ptr<Storage> storage_;
  std::int64_t offset_ = 0;
  Shape shape_;
  Shape strides_;
  DType dtype_ = DType::F32;
};

/// A contiguous (..., 2) float32/float64 tensor of (real, imaginary) pairs seen as a (...)
/// complex64/complex128 tensor over the same storage (torch.view_as_complex).
Tensor view_as_complex(const Tensor& pairs);

}  // namespace subq
