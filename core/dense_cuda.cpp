// The CUDA paths of the dense layers: float32 on one device (the linear layer also float64),
// cuBLAS for the linear layer (its default math, no TF32, so results stay within float32
// rounding of the CPU's), core/dense.cu for the rest.
#include "core/dense_cuda.hpp"

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <map>
#include <mutex>

#include "core/check.hpp"
#include "core/dense_kernels.hpp"
#include "core/weight_rows_cuda.hpp"

namespace subq::detail {

namespace {

// One cuBLAS handle per device for the whole process, made on first use.
cublasHandle_t cublas_handle(Device device) {
  static std::mutex mutex;
  static std::map<int, cublasHandle_t> handles;
  std::lock_guard lock(mutex);
  auto it = handles.find(device.index);
  if (it != handles.end()) return it->second;
  cublasHandle_t handle = nullptr;
  const cublasStatus_t status = cublasCreate(&handle);
  SUBQ_CHECK(status == CUBLAS_STATUS_SUCCESS, "cuBLAS on {}: cublasCreate failed ({})", to_string(device),
             cublasGetStatusString(status));
  return handles.emplace(device.index, handle).first->second;
}

const float* data(const Tensor& t) { return t.defined() ? t.data<float>() : nullptr; }

// Row-major y (rows, out) = x (rows, in) W^T is column-major y^T (out, rows) = W x^T, with W
// read as the transpose of the column-major (in, out) matrix it is in memory.
cublasStatus_t gemm(cublasHandle_t handle, int out, int rows, int in, const float* w, const float* x, float* y) {
  const float one = 1, zero = 0;
  return cublasSgemm(handle, CUBLAS_OP_T, CUBLAS_OP_N, out, rows, in, &one, w, in, x, in, &zero, y, out);
}
cublasStatus_t gemm(cublasHandle_t handle, int out, int rows, int in, const double* w, const double* x, double* y) {
  const double one = 1, zero = 0;
  return cublasDgemm(handle, CUBLAS_OP_T, CUBLAS_OP_N, out, rows, in, &one, w, in, x, in, &zero, y, out);
}

// y (rows, out) = x (rows, in) W^T + bias on x's device, sizes already checked.
template <class T>
void linear_typed(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& y, std::int64_t rows,
                  std::int64_t in, std::int64_t out) {
  const Device device = x.device();
  const Tensor xc = x.contiguous(), w = weight.contiguous();
  const cublasStatus_t status = gemm(cublas_handle(device), int(out), int(rows), int(in), w.data<T>(), xc.data<T>(), y.data<T>());
  SUBQ_CHECK(status == CUBLAS_STATUS_SUCCESS, "linear on {}: cuBLAS GEMM failed ({})", to_string(device),
             cublasGetStatusString(status));
  if (bias.defined())
    check_launch("linear", device, launch_add_bias(y.data<T>(), bias.contiguous().data<T>(), rows, out));
}

}  // namespace

Tensor linear_cuda(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  const Device device = x.device();
  const DType dtype = x.dtype();
  SUBQ_CHECK(dtype == DType::F32 || dtype == DType::F64, "linear on {}: x: expected float32 or float64, found {}",
             to_string(device), dtype_name(dtype));
  check_cuda_dtype("linear", device, dtype, {{"weight", &weight}, {"bias", &bias}});
  const std::int64_t in = x.size(-1), out = weight.size(0), rows = in == 0 ? 0 : x.numel() / in;
  SUBQ_CHECK(in <= 0x7fffffff && out <= 0x7fffffff && rows <= 0x7fffffff,
             "linear on {}: sizes (rows {}, in {}, out {}) exceed cuBLAS's 32-bit extents", to_string(device), rows,
             in, out);
  Shape shape = x.shape();
  shape.back() = out;
  Tensor y = Tensor::empty(shape, dtype, device);
  if (rows == 0 || out == 0) return y;
  SUBQ_CHECK(cudaSetDevice(device.index) == cudaSuccess, "linear: cudaSetDevice({}) failed", device.index);
  if (dtype == DType::F64)
    linear_typed<double>(x, weight, bias, y, rows, in, out);
  else
    linear_typed<float>(x, weight, bias, y, rows, in, out);
  return y;
}

Tensor rms_norm_cuda(const Tensor& x, const Tensor& weight, double eps, const Tensor& gate) {
  const Device device = x.device();
  check_cuda_float32("rms_norm", device, {{"x", &x}, {"weight", &weight}, {"gate", &gate}});
  const Tensor xc = x.contiguous(), w = weight.contiguous(), g = gate.defined() ? gate.contiguous() : gate;
  Tensor y = Tensor::empty(x.shape(), DType::F32, device);
  const std::int64_t dim = x.size(-1), rows = dim == 0 ? 0 : x.numel() / dim;
  check_launch("rms_norm", device, launch_rms_norm(data(xc), data(g), data(w), y.data<float>(), rows, dim, float(eps)));
  return y;
}

Tensor group_norm_cuda(const Tensor& x, std::int64_t groups, const Tensor& weight, const Tensor& bias, double eps) {
  const Device device = x.device();
  check_cuda_float32("group_norm", device, {{"x", &x}, {"weight", &weight}, {"bias", &bias}});
  const Tensor xc = x.contiguous(), w = weight.contiguous(), b = bias.defined() ? bias.contiguous() : bias;
  Tensor y = Tensor::empty(x.shape(), DType::F32, device);
  const std::int64_t dim = x.size(-1), size = dim / groups, count = size == 0 ? 0 : x.numel() / size;
  check_launch("group_norm", device,
               launch_group_norm(data(xc), data(w), data(b), y.data<float>(), count, size, dim, float(eps)));
  return y;
}

Tensor rotary_cuda(const Tensor& x, std::int64_t offset, double base, std::int64_t rotary_dims) {
  check_cuda_float32("rotary", x.device(), {{"x", &x}});
  const Tensor xc = x.contiguous();
  // The dims past rotary_dims pass through: y starts as x's copy.
  Tensor y = rotary_dims < x.size(3) ? xc.clone() : Tensor::empty(x.shape(), DType::F32, x.device());
  check_launch("rotary", x.device(),
               launch_rotary(data(xc), y.data<float>(), x.size(0) * x.size(1) * x.size(2), x.size(1), x.size(2),
                             rotary_dims / 2, x.size(3), offset, base));
  return y;
}

Tensor scale_cuda(const Tensor& x, double factor) {
  Tensor y = x.contiguous().clone();
  check_launch("scale", x.device(),
               x.dtype() == DType::F64 ? launch_scale(y.data<double>(), y.numel(), factor)
                                       : launch_scale(y.data<float>(), y.numel(), factor));
  return y;
}

void add_into_cuda(const Tensor& h, const Tensor& update) {
  check_cuda_float32("add_into", h.device(), {{"h", &h}, {"update", &update}});
  check_launch("add_into", h.device(), launch_add(h.data<float>(), data(update.contiguous()), h.numel()));
}

Tensor embedding_cuda(const Tensor& table, const Tensor& ids) {
  const Device device = table.device();
  check_cuda_float32("embedding", device, {{"table", &table}});
  const Tensor on_device = ids.to(device), t = table.contiguous();
  Shape shape = ids.shape();
  shape.push_back(table.size(1));
  Tensor y = Tensor::empty(shape, DType::F32, device);
  check_launch("embedding", device, launch_embedding(t.data<float>(), on_device.data<std::int64_t>(), y.data<float>(),
                                                     ids.numel(), table.size(1)));
  return y;
}

Tensor linear_compact_cuda(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  const Device device = x.device();  // x float32, as linear() checked
  check_cuda_dtype("linear", device, weight.dtype(), {{"weight", &weight}});
  check_cuda_float32("linear", device, {{"bias", &bias}});
  const std::int64_t in = x.size(-1), out = weight.size(0), rows = in == 0 ? 0 : x.numel() / in;
  if (rows > kMaxDotVectors) return linear_cuda(x, weight.to(DType::F32), bias);
  Shape shape = x.shape();
  shape.back() = out;
  Tensor y = Tensor::empty(shape, DType::F32, device);
  if (rows == 0 || out == 0) return y;
  SUBQ_CHECK(cudaSetDevice(device.index) == cudaSuccess, "linear: cudaSetDevice({}) failed", device.index);
  const Tensor xc = x.contiguous(), w = weight.contiguous();
  check_launch("linear", device,
               launch_dot_rows(w.dtype(), w.raw_data(), in, storage_bytes(w.dtype(), in), out, xc.data<float>(),
                               int(rows), y.data<float>()));
  if (bias.defined())
    check_launch("linear", device, launch_add_bias(y.data<float>(), bias.contiguous().data<float>(), rows, out));
  return y;
}

Tensor embedding_compact_cuda(const Tensor& table, const Tensor& ids) {
  const Device device = table.device();
  const Tensor on_device = ids.to(device), t = table.contiguous();
  const std::int64_t dim = t.size(1);
  Shape shape = ids.shape();
  shape.push_back(dim);
  Tensor y = Tensor::empty(shape, DType::F32, device);
  SUBQ_CHECK(cudaSetDevice(device.index) == cudaSuccess, "embedding: cudaSetDevice({}) failed", device.index);
  check_launch("embedding", device,
               launch_widen_rows(t.dtype(), t.raw_data(), dim, storage_bytes(t.dtype(), dim),
                                 on_device.data<std::int64_t>(), ids.numel(), y.data<float>()));
  return y;
}

}  // namespace subq::detail
