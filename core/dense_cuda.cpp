// The CUDA paths of the dense layers: float32 on one device, cuBLAS for the linear layer (its
// default math, no TF32, so results stay within float32 rounding of the CPU's), core/dense.cu
// for the rest.
#include "core/dense_cuda.hpp"

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <map>
#include <mutex>

#include "core/check.hpp"
#include "core/dense_kernels.hpp"

namespace subq::detail {

namespace {

void check_on_device(const char* op, const char* name, const Tensor& t, Device device) {
  if (!t.defined()) return;
  SUBQ_CHECK(t.device() == device, "{}: {} is on {}, the input on {}", op, name, to_string(t.device()),
             to_string(device));
  SUBQ_CHECK(t.dtype() == DType::F32, "{} on {}: {}: expected float32, found {}", op, to_string(device), name,
             dtype_name(t.dtype()));
}

void check_launch(const char* op, Device device, const std::string& error) {
  SUBQ_CHECK(error.empty(), "{} on {}: {}", op, to_string(device), error);
}

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

}  // namespace

Tensor linear_cuda(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  const Device device = x.device();
  for (const auto& [name, t] : {std::pair{"x", &x}, std::pair{"weight", &weight}, std::pair{"bias", &bias}})
    check_on_device("linear", name, *t, device);
  const std::int64_t in = x.size(-1), out = weight.size(0), rows = in == 0 ? 0 : x.numel() / in;
  SUBQ_CHECK(in <= 0x7fffffff && out <= 0x7fffffff && rows <= 0x7fffffff,
             "linear on {}: sizes (rows {}, in {}, out {}) exceed cuBLAS's 32-bit extents", to_string(device), rows,
             in, out);
  const Tensor xc = x.contiguous(), w = weight.contiguous();
  Shape shape = x.shape();
  shape.back() = out;
  Tensor y = Tensor::empty(shape, DType::F32, device);
  if (rows == 0 || out == 0) return y;
  SUBQ_CHECK(cudaSetDevice(device.index) == cudaSuccess, "linear: cudaSetDevice({}) failed", device.index);
  // Row-major y (rows, out) = x (rows, in) W^T is column-major y^T (out, rows) = W x^T, with W
  // read as the transpose of the column-major (in, out) matrix it is in memory.
  const float one = 1, zero = 0;
  const cublasStatus_t status =
      cublasSgemm(cublas_handle(device), CUBLAS_OP_T, CUBLAS_OP_N, int(out), int(rows), int(in), &one, w.data<float>(),
                  int(in), xc.data<float>(), int(in), &zero, y.data<float>(), int(out));
  SUBQ_CHECK(status == CUBLAS_STATUS_SUCCESS, "linear on {}: cublasSgemm failed ({})", to_string(device),
             cublasGetStatusString(status));
  if (bias.defined()) check_launch("linear", device, launch_add_bias(y.data<float>(), data(bias.contiguous()), rows, out));
  return y;
}

Tensor rms_norm_cuda(const Tensor& x, const Tensor& weight, double eps, const Tensor& gate) {
  const Device device = x.device();
  for (const auto& [name, t] : {std::pair{"x", &x}, std::pair{"weight", &weight}, std::pair{"gate", &gate}})
    check_on_device("rms_norm", name, *t, device);
  const Tensor xc = x.contiguous(), w = weight.contiguous(), g = gate.defined() ? gate.contiguous() : gate;
  Tensor y = Tensor::empty(x.shape(), DType::F32, device);
  const std::int64_t dim = x.size(-1), rows = dim == 0 ? 0 : x.numel() / dim;
  check_launch("rms_norm", device, launch_rms_norm(data(xc), data(g), data(w), y.data<float>(), rows, dim, float(eps)));
  return y;
}

void add_into_cuda(const Tensor& h, const Tensor& update) {
  check_on_device("add_into", "h", h, h.device());
  check_on_device("add_into", "update", update, h.device());
  check_launch("add_into", h.device(), launch_add(h.data<float>(), data(update.contiguous()), h.numel()));
}

Tensor embedding_cuda(const Tensor& table, const Tensor& ids) {
  const Device device = table.device();
  check_on_device("embedding", "table", table, device);
  const std::int64_t vocab = table.size(0), dim = table.size(1);
  const Tensor i = ids.contiguous();
  for (std::int64_t k = 0; k < i.numel(); ++k) {
    const std::int64_t id = i.data<std::int64_t>()[k];
    SUBQ_CHECK(id >= 0 && id < vocab, "embedding: id {} at position {} is outside the vocabulary [0, {})", id, k, vocab);
  }
  const Tensor on_device = i.to(device), t = table.contiguous();
  Shape shape = ids.shape();
  shape.push_back(dim);
  Tensor y = Tensor::empty(shape, DType::F32, device);
  check_launch("embedding", device,
               launch_embedding(t.data<float>(), on_device.data<std::int64_t>(), y.data<float>(), i.numel(), dim));
  return y;
}

}  // namespace subq::detail
