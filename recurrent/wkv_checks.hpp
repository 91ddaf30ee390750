#pragma once
// Internal: the dtype and device contract RWKV-6's and RWKV-7's WKV share (shapes are each one's).
#include "core/check.hpp"
#include "recurrent/wkv_cuda.hpp"

namespace subq::recurrent::detail {

/// Whether the CUDA kernels of RWKV-6 and RWKV-7 take heads of d_k keys and d_v values.
inline bool wkv_cuda_supports(std::int64_t dk, std::int64_t dv) { return dk <= kWkvMaxKeyDim && dv <= kWkvMaxValueDim; }

/// Throws, naming the layer, unless a layer on `device` with these head sizes can run there:
/// checked when the layer is loaded.
inline void check_wkv_heads_fit(const std::string& layer, Device device, std::int64_t dk, std::int64_t dv) {
  SUBQ_CHECK(!device.is_cuda() || wkv_cuda_supports(dk, dv),
             "{}: heads of d_k {} and d_v {} on {}: the CUDA kernels take d_k up to {} and d_v up to {}", layer, dk, dv,
             to_string(device), kWkvMaxKeyDim, kWkvMaxValueDim);
}

/// float32 or float64 on the CPU; on CUDA also bfloat16, with `inputs` of r's dtype and head
/// sizes the kernels hold. `inputs` and the initial state on r's device.
inline void check_wkv_inputs(const char* op, const Tensor& r, NamedTensors inputs, const Tensor& initial_state,
                             std::int64_t dk, std::int64_t dv) {
  const Device device = r.device();
  if (device.is_cuda()) {
    SUBQ_CHECK(r.dtype() == DType::F32 || r.dtype() == DType::F64 || r.dtype() == DType::BF16,
               "{} on {}: r: expected float32, float64 or bfloat16, found {}", op, to_string(device), dtype_name(r.dtype()));
    check_cuda_dtype(op, device, r.dtype(), inputs);
    SUBQ_CHECK(wkv_cuda_supports(dk, dv), "{} on {}: takes d_k up to {} and d_v up to {}, found {} and {}", op,
               to_string(device), kWkvMaxKeyDim, kWkvMaxValueDim, dk, dv);
  } else {
    SUBQ_CHECK(r.dtype() == DType::F32 || r.dtype() == DType::F64, "{}: r: expected float32 or float64, found {}", op,
               dtype_name(r.dtype()));
  }
  check_same_device(op, device, inputs);
  check_same_device(op, device, {{"initial_state", &initial_state}});
}

}  // namespace subq::recurrent::detail
