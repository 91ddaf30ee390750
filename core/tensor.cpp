#include "core/tensor.hpp"

#include <sys/mman.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <type_traits>

#include "core/block_cache.hpp"
#include "core/check.hpp"
#include "core/cuda_runtime.hpp"
#include "core/dispatch.hpp"
#include "core/weight_rows.hpp"

namespace subq {

std::string to_string(const Shape& shape) { return fmt::format("[{}]", fmt::join(shape, ", ")); }

std::int64_t shape_numel(const Shape& shape) {
  std::int64_t n = 1;
  for (std::int64_t extent : shape) {
    SUBQ_CHECK(extent >= 0, "shape {}: negative extent", to_string(shape));
    SUBQ_CHECK(!__builtin_mul_overflow(n, extent, &n), "shape {}: element count overflows", to_string(shape));
  }
  return n;
}

Storage::Storage(void* data, std::size_t bytes, Device device, std::function<void()> release)
    : data_(data), bytes_(bytes), device_(device), release_(std::move(release)) {}

Storage::~Storage() {
  if (release_) release_();
}

namespace {

// Host blocks below this come from malloc's heap, which reuses them without page faults anyway.
constexpr std::size_t kMinCachedHostBlock = std::size_t(64) << 10;
constexpr std::size_t kMaxHeldHostBytes = std::size_t(256) << 20;

// Under a sanitizer every block goes back to the system, so that a use after free is caught.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kCacheHostBlocks = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(memory_sanitizer)
constexpr bool kCacheHostBlocks = false;
#else
constexpr bool kCacheHostBlocks = true;
#endif
#else
constexpr bool kCacheHostBlocks = true;
#endif

detail::BlockCache& host_block_cache() {
  static auto* cache =  // never destroyed: tensors may be freed during exit
      new detail::BlockCache([](void* ptr, int) { std::free(ptr); }, kCacheHostBlocks ? kMaxHeldHostBytes : 0);
  return *cache;
}

// Blocks of this size and more are asked for in transparent huge pages: a fresh page costs a
// fault, and on a virtual machine (this project's CI kind) a fault costs microseconds, so a 128 MiB
// activation at L = 16K in 4 KiB pages took longer to fault in than to compute.
constexpr std::size_t kHugePage = std::size_t(2) << 20;

// A fresh host block of size bytes plus 64 of slack: 64-byte aligned (cache lines, any SIMD width),
// huge-page aligned and advised from kHugePage up.
void* fresh_host_block(std::size_t size) {
  if (size < kHugePage) return std::aligned_alloc(64, size + 64);
  const std::size_t whole = (size + 64 + kHugePage - 1) / kHugePage * kHugePage;
  void* ptr = std::aligned_alloc(kHugePage, whole);
  if (ptr) madvise(ptr, whole, MADV_HUGEPAGE);  // advice: a kernel without THP ignores it
  return ptr;
}

std::atomic<std::int64_t> host_in_use{0}, host_peak{0};

void count_host_bytes(std::int64_t bytes) {
  const std::int64_t now = host_in_use.fetch_add(bytes, std::memory_order_relaxed) + bytes;
  std::int64_t peak = host_peak.load(std::memory_order_relaxed);
  while (now > peak && !host_peak.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
  }
}

// Blocks the cache keeps are rounded to its sizes; smaller ones only to the alignment.
std::shared_ptr<Storage> allocate_host(std::size_t bytes) {
  const std::size_t rounded = detail::BlockCache::rounded(bytes);
  const bool cached = rounded >= kMinCachedHostBlock;
  const std::size_t size = cached ? rounded : (bytes + 63) / 64 * 64;
  void* ptr = cached ? host_block_cache().take(size, 0) : nullptr;
  if (ptr == nullptr) ptr = fresh_host_block(size);
  if (ptr == nullptr && cached) {  // the kept blocks may be what the system lacks
    host_block_cache().release();
    ptr = fresh_host_block(size);
  }
  SUBQ_CHECK(ptr != nullptr, "out of memory allocating {} bytes", bytes);
  const auto counted = std::int64_t(bytes);
  count_host_bytes(counted);
  if (!cached)
    return std::make_shared<Storage>(ptr, bytes, Device::cpu(), [ptr, counted] {
      count_host_bytes(-counted);
      std::free(ptr);
    });
  return std::make_shared<Storage>(ptr, bytes, Device::cpu(), [ptr, size, counted] {
    count_host_bytes(-counted);
    host_block_cache().give(ptr, size, 0);
  });
}

}  // namespace

std::shared_ptr<Storage> Storage::allocate(std::size_t bytes, Device device) {
  if (device.is_cpu()) return allocate_host(bytes);
  return on_cuda("allocate", device, [&] {
    void* ptr = detail::cuda_allocate(bytes, device.index);
    return std::make_shared<Storage>(ptr, bytes, device,
                                     [ptr, bytes, device] { detail::cuda_free(ptr, bytes, device.index); });
  });
}

std::int64_t host_bytes_in_use() { return host_in_use.load(std::memory_order_relaxed); }
std::int64_t host_peak_bytes() { return host_peak.load(std::memory_order_relaxed); }
void reset_host_peak_bytes() { host_peak.store(host_in_use.load(std::memory_order_relaxed), std::memory_order_relaxed); }

void release_cached_memory() {
  host_block_cache().release();
  if constexpr (build::cuda) detail::cuda_release_cache();
}

namespace {

// A block format's rows hold whole blocks, so that every row (and a slice of rows) starts at one.
void check_whole_blocks(const char* op, const Shape& shape, DType dtype) {
  if (!is_quantized(dtype)) return;
  SUBQ_CHECK(!shape.empty() && shape.back() % dtype_block(dtype) == 0,
             "{}: a {} tensor's last extent must be a multiple of {}, found shape {}", op, dtype_name(dtype),
             dtype_block(dtype), to_string(shape));
}

// A tensor converted to or from a block format is read as contiguous rows of whole blocks.
void check_block_rows(const Tensor& t, DType to) {
  SUBQ_CHECK(t.is_contiguous() && t.dim() >= 1, "Tensor::to({}): a {} tensor {} must be contiguous rows",
             dtype_name(to), dtype_name(t.dtype()), to_string(t.shape()));
}

Shape contiguous_strides(const Shape& shape) {
  Shape strides(shape.size());
  std::int64_t s = 1;
  for (std::size_t i = shape.size(); i-- > 0;) {
    strides[i] = s;
    s *= std::max<std::int64_t>(shape[i], 1);
  }
  return strides;
}

// Calls fn(element offset) for every element of (shape, strides), in row-major order.
template <class Fn>
void for_each_offset(const Shape& shape, const Shape& strides, std::int64_t offset, Fn&& fn) {
  const int dims = int(shape.size());
  if (dims == 0) {
    fn(offset);
    return;
  }
  if (shape_numel(shape) == 0) return;
  std::vector<std::int64_t> index(dims, 0);
  const std::int64_t inner = shape[dims - 1], inner_stride = strides[dims - 1];
  while (true) {
    for (std::int64_t i = 0; i < inner; ++i) fn(offset + i * inner_stride);
    int d = dims - 2;
    for (; d >= 0; --d) {
      offset += strides[d];
      if (++index[d] < shape[d]) break;
      offset -= strides[d] * shape[d];
      index[d] = 0;
    }
    if (d < 0) return;
  }
}

template <class T>
constexpr bool is_complex_v = std::is_same_v<T, complex64> || std::is_same_v<T, complex128>;

// Element conversion: 16-bit floats through float, complex keeps both parts, integers stay
// integers (no detour through double that would round large int64).
template <class To, class From>
To convert(From x) {
  if constexpr (std::is_same_v<To, From>) {
    return x;
  } else if constexpr (std::is_same_v<From, bfloat16> || std::is_same_v<From, float16>) {
    return convert<To>(to_float(x));
  } else if constexpr (std::is_same_v<To, bfloat16>) {
    return to_bfloat16(float(convert<double>(x)));
  } else if constexpr (std::is_same_v<To, float16>) {
    return to_float16(float(convert<double>(x)));
  } else if constexpr (is_complex_v<To>) {
    if constexpr (is_complex_v<From>)
      return To(decltype(To::re)(x.re), decltype(To::re)(x.im));
    else
      return To(decltype(To::re)(x));
  } else if constexpr (is_complex_v<From>) {
    throw Error("Tensor::to: cannot convert a complex tensor to a real dtype");
  } else {
    return To(x);
  }
}

}  // namespace

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  Tensor t;
  check_whole_blocks("Tensor::empty", shape, dtype);
  t.storage_ = Storage::allocate(storage_bytes(dtype, shape_numel(shape)), device);
  t.shape_ = shape;
  t.strides_ = contiguous_strides(shape);
  t.dtype_ = dtype;
  return t;
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  if (device.is_cpu())
    std::memset(t.raw_data(), 0, t.storage_->bytes());
  else
    on_cuda("Tensor::zeros", device, [&] { detail::cuda_fill_zero(t.raw_data(), device, t.storage_->bytes()); });
  return t;
}

Tensor Tensor::requantized_copy(DType dtype) const {
  check_block_rows(*this, dtype);
  if (dtype == dtype_) {
    Tensor out = empty(shape_, dtype);
    std::memcpy(out.raw_data(), raw_data(), storage_bytes(dtype, numel()));
    return out;
  }
  const std::int64_t n = shape_.back(), rows = n == 0 ? 0 : numel() / n;
  if (is_quantized(dtype)) {  // through float32 rows into blocks
    const Tensor rows_f32 = to(DType::F32);
    Tensor out = empty(shape_, dtype);
    detail::quantize_rows(dtype, rows_f32.data<float>(), n, rows, out.raw_data());
    return out;
  }
  Tensor widened = empty(shape_, DType::F32);
  detail::widen_rows(dtype_, raw_data(), n, rows, widened.data<float>());
  return widened.to(dtype);
}

Tensor Tensor::from_storage(std::shared_ptr<Storage> storage, std::size_t byte_offset, const Shape& shape,
                            DType dtype) {
  check_whole_blocks("Tensor::from_storage", shape, dtype);
  const std::size_t bytes = storage_bytes(dtype, shape_numel(shape)), unit = storage_bytes(dtype, dtype_block(dtype));
  SUBQ_CHECK(byte_offset % unit == 0, "Tensor::from_storage: byte offset {} is not a multiple of {} ({})", byte_offset,
             unit, dtype_name(dtype));
  SUBQ_CHECK(byte_offset <= storage->bytes() && bytes <= storage->bytes() - byte_offset,
             "Tensor::from_storage: {} bytes at offset {} exceed the storage of {} bytes", bytes, byte_offset,
             storage->bytes());
  Tensor t;
  t.storage_ = std::move(storage);
  t.offset_ = std::int64_t(byte_offset / unit) * dtype_block(dtype);
  t.shape_ = shape;
  t.strides_ = contiguous_strides(shape);
  t.dtype_ = dtype;
  return t;
}

Device Tensor::device() const { return storage_ ? storage_->device() : Device::cpu(); }

int Tensor::wrap_dim(int d, const char* what) const {
  const int wrapped = d < 0 ? d + dim() : d;
  SUBQ_CHECK(wrapped >= 0 && wrapped < dim(), "Tensor::{}: dimension {} out of range for shape {}", what, d,
             to_string(shape_));
  return wrapped;
}

std::int64_t Tensor::size(int d) const { return shape_[wrap_dim(d, "size")]; }
std::int64_t Tensor::stride(int d) const { return strides_[wrap_dim(d, "stride")]; }
std::int64_t Tensor::numel() const { return shape_numel(shape_); }

bool Tensor::is_contiguous() const {
  if (numel() == 0) return true;  // no element to be out of place
  std::int64_t expected = 1;
  for (int d = dim() - 1; d >= 0; --d) {
    if (shape_[d] != 1 && strides_[d] != expected) return false;
    expected *= shape_[d];
  }
  return true;
}

void* Tensor::raw_data() const {
  SUBQ_CHECK(defined(), "Tensor::data: the tensor is undefined");
  char* base = static_cast<char*>(storage_->data());
  if (!is_quantized(dtype_)) return base + offset_ * std::int64_t(dtype_size(dtype_));
  SUBQ_CHECK(offset_ % dtype_block(dtype_) == 0, "Tensor::data: a {} view must start at a block of {} elements",
             dtype_name(dtype_), dtype_block(dtype_));
  return base + storage_bytes(dtype_, offset_);
}

Tensor Tensor::view(const Shape& shape) const {
  SUBQ_CHECK(is_contiguous(), "Tensor::view: needs a contiguous tensor (shape {}); call contiguous() first",
             to_string(shape_));
  Shape resolved = shape;
  std::int64_t known = 1;
  int infer = -1;
  for (std::size_t i = 0; i < resolved.size(); ++i) {
    if (resolved[i] == -1) {
      SUBQ_CHECK(infer < 0, "Tensor::view: more than one -1 in {}", to_string(shape));
      infer = int(i);
    } else {
      SUBQ_CHECK(resolved[i] >= 0, "Tensor::view: negative extent in {}", to_string(shape));
      known *= resolved[i];
    }
  }
  if (infer >= 0) {
    SUBQ_CHECK(known > 0 && numel() % known == 0, "Tensor::view: cannot view {} as {}", to_string(shape_),
               to_string(shape));
    resolved[infer] = numel() / known;
  }
  SUBQ_CHECK(shape_numel(resolved) == numel(), "Tensor::view: cannot view {} ({} elements) as {}", to_string(shape_),
             numel(), to_string(shape));
  Tensor t = *this;
  t.shape_ = resolved;
  t.strides_ = contiguous_strides(resolved);
  return t;
}

Tensor Tensor::slice(int d, std::int64_t start, std::int64_t end) const {
  d = wrap_dim(d, "slice");
  SUBQ_CHECK(0 <= start && start <= end && end <= shape_[d], "Tensor::slice: [{}, {}) out of range for dimension {} of {}",
             start, end, d, to_string(shape_));
  Tensor t = *this;
  t.offset_ += start * strides_[d];
  t.shape_[d] = end - start;
  return t;
}

Tensor Tensor::select(int d, std::int64_t i) const {
  d = wrap_dim(d, "select");
  SUBQ_CHECK(0 <= i && i < shape_[d], "Tensor::select: index {} out of range for dimension {} of {}", i, d,
             to_string(shape_));
  Tensor t = *this;
  t.offset_ += i * strides_[d];
  t.shape_.erase(t.shape_.begin() + d);
  t.strides_.erase(t.strides_.begin() + d);
  return t;
}

Tensor Tensor::transpose(int d0, int d1) const {
  std::vector<int> order(dim());
  std::iota(order.begin(), order.end(), 0);
  std::swap(order[wrap_dim(d0, "transpose")], order[wrap_dim(d1, "transpose")]);
  return permute(order);
}

Tensor Tensor::permute(const std::vector<int>& order) const {
  SUBQ_CHECK(int(order.size()) == dim(), "Tensor::permute: {} dimensions given for shape {}", order.size(),
             to_string(shape_));
  std::vector<bool> seen(dim(), false);
  Tensor t = *this;
  for (int i = 0; i < dim(); ++i) {
    const int d = wrap_dim(order[i], "permute");
    SUBQ_CHECK(!seen[d], "Tensor::permute: dimension {} repeated", d);
    seen[d] = true;
    t.shape_[i] = shape_[d];
    t.strides_[i] = strides_[d];
  }
  return t;
}

Tensor Tensor::expand(const Shape& shape) const {
  SUBQ_CHECK(int(shape.size()) == dim(), "Tensor::expand: cannot expand {} to {}", to_string(shape_),
             to_string(shape));
  Tensor t = *this;
  for (int d = 0; d < dim(); ++d) {
    if (shape_[d] == shape[d]) continue;
    SUBQ_CHECK(shape_[d] == 1 && shape[d] >= 0, "Tensor::expand: cannot expand {} to {}", to_string(shape_),
               to_string(shape));
    t.shape_[d] = shape[d];
    t.strides_[d] = 0;
  }
  return t;
}

Tensor Tensor::contiguous() const {
  if (is_contiguous()) return *this;
  return clone();
}

Tensor Tensor::clone() const {
  SUBQ_CHECK(defined(), "Tensor::clone: the tensor is undefined");
  if (device().is_cpu()) return converted_copy(dtype_);
  Tensor t = empty(shape_, dtype_, device());
  if (is_contiguous())
    t.copy_from(*this);
  else
    on_cuda("Tensor::clone", device(),
            [&] { detail::copy_strided(t.raw_data(), raw_data(), shape_, strides_, dtype_size(dtype_), device()); });
  return t;
}

Tensor Tensor::converted_copy(DType dtype) const {
  if (is_quantized(dtype) || is_quantized(dtype_)) return requantized_copy(dtype);
  Tensor out = empty(shape_, dtype);
  if (numel() == 0) return out;
  if (dtype == dtype_) {
    // The trailing dimensions that are dense make runs copied whole (all of it when contiguous; a
    // row of a batch when slicing a longer buffer), the outer ones are stepped through.
    int outer = dim();
    std::int64_t run = 1;
    for (; outer > 0 && (shape_[outer - 1] == 1 || strides_[outer - 1] == run); --outer) run *= shape_[outer - 1];
    const std::size_t element = dtype_size(dtype), run_bytes = std::size_t(run) * element;
    const char* src = static_cast<const char*>(storage_->data());
    char* dst = static_cast<char*>(out.raw_data());
    for_each_offset(Shape(shape_.begin(), shape_.begin() + outer), Shape(strides_.begin(), strides_.begin() + outer), offset_,
                    [&](std::int64_t i) {
                      std::memcpy(dst, src + std::size_t(i) * element, run_bytes);
                      dst += run_bytes;
                    });
    return out;
  }
  dispatch(AllTypes{}, "Tensor::to", dtype_, [&](auto from) {
    dispatch(AllTypes{}, "Tensor::to", dtype, [&](auto to) {
      using From = decltype(from);
      using To = decltype(to);
      const From* src = static_cast<const From*>(storage_->data());
      To* dst = static_cast<To*>(out.raw_data());
      for_each_offset(shape_, strides_, offset_, [&](std::int64_t i) { *dst++ = convert<To>(src[i]); });
    });
  });
  return out;
}

void Tensor::copy_from(const Tensor& src) const {
  SUBQ_CHECK(defined() && src.defined(), "Tensor::copy_from: both tensors must be defined");
  SUBQ_CHECK(src.shape_ == shape_ && src.dtype_ == dtype_, "Tensor::copy_from: expected {} {}, found {} {}",
             dtype_name(dtype_), to_string(shape_), dtype_name(src.dtype_), to_string(src.shape_));
  SUBQ_CHECK(is_contiguous() && src.is_contiguous(), "Tensor::copy_from: both tensors must be contiguous");
  const std::size_t bytes = storage_bytes(dtype_, numel());
  if (bytes == 0) return;
  if (device().is_cpu() && src.device().is_cpu()) {
    std::memcpy(raw_data(), src.raw_data(), bytes);
    return;
  }
  on_cuda("Tensor::copy_from", device().is_cuda() ? device() : src.device(),
          [&] { detail::cuda_copy_bytes(raw_data(), device(), src.raw_data(), src.device(), bytes); });
}

Tensor Tensor::to(Device device) const {
  SUBQ_CHECK(defined(), "Tensor::to: the tensor is undefined");
  if (device == this->device()) return *this;
  Tensor t = empty(shape_, dtype_, device);
  t.copy_from(contiguous());
  return t;
}

Tensor Tensor::to(DType dtype) const {
  SUBQ_CHECK(defined(), "Tensor::to: the tensor is undefined");
  if (dtype == dtype_) return *this;
  if (device().is_cpu()) return converted_copy(dtype);
  // Blocks are quantised on the CPU (loading is what makes them) and widened on the device.
  if (is_quantized(dtype)) return to(Device::cpu()).to(dtype).to(device());
  if (is_quantized(dtype_)) {
    check_block_rows(*this, dtype);
    Tensor wide = empty(shape_, DType::F32, device());
    const std::int64_t n = shape_.back();
    on_cuda("Tensor::to", device(), [&] {
      detail::widen_quantized(wide.data<float>(), raw_data(), dtype_, n, n == 0 ? 0 : numel() / n, device());
    });
    return wide.to(dtype);
  }
  Tensor out = empty(shape_, dtype, device());
  on_cuda("Tensor::to", device(),
          [&] { detail::convert_strided(out.raw_data(), dtype, raw_data(), dtype_, shape_, strides_, device()); });
  return out;
}

Tensor view_as_complex(const Tensor& pairs) {
  SUBQ_CHECK(pairs.defined() && pairs.dim() >= 1 && pairs.size(-1) == 2,
             "view_as_complex: expected a last dimension of 2 (real, imaginary), found {}",
             pairs.defined() ? to_string(pairs.shape()) : "nothing");
  SUBQ_CHECK(pairs.dtype() == DType::F32 || pairs.dtype() == DType::F64,
             "view_as_complex: expected float32 or float64 pairs, found {}", dtype_name(pairs.dtype()));
  SUBQ_CHECK(pairs.is_contiguous(), "view_as_complex: the pairs must be contiguous (shape {})", to_string(pairs.shape()));
  const DType complex = pairs.dtype() == DType::F32 ? DType::C64 : DType::C128;
  const Shape shape(pairs.shape().begin(), pairs.shape().end() - 1);
  return Tensor::from_storage(pairs.storage(), std::size_t(pairs.offset()) * dtype_size(pairs.dtype()), shape, complex);
}

}  // namespace subq
