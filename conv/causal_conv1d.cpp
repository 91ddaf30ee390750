#include "conv/causal_conv1d.hpp"

#include <vector>

#include "conv/causal_conv1d_cuda.hpp"
#include "core/check.hpp"
#include "core/dispatch.hpp"
#include "core/math.hpp"
#include "core/thread_pool.hpp"

namespace subq::conv {

namespace {

void check_weights(const char* op, const Tensor& weight, const Tensor& bias, std::int64_t channels) {
  SUBQ_CHECK(weight.defined() && weight.dim() == 2 && weight.size(0) == channels && weight.size(1) >= 1,
             "{}: weight: expected ({}, width), found {}", op, channels,
             weight.defined() ? to_string(weight.shape()) : "nothing");
  if (bias.defined()) check_shape(op, "bias", bias, {channels});
}

// One (batch, channel) row: the window holds the previous width - 1 inputs, then each new one.
template <class T>
void convolve_row(const T* x, std::int64_t x_step, std::int64_t L, const T* w, std::int64_t w_step, std::int64_t K,
                  T bias, Activation activation, T* window, T* out) {
  for (std::int64_t t = 0; t < L; ++t) {
    window[K - 1] = x[t * x_step];
    T acc = bias;
    for (std::int64_t k = 0; k < K; ++k) acc += w[k * w_step] * window[k];
    out[t] = subq::activation(activation, acc);
    for (std::int64_t k = 0; k + 1 < K; ++k) window[k] = window[k + 1];
  }
}

template <class T>
CausalConv1dResult run(const Tensor& x, const Tensor& weight, const Tensor& bias, Activation activation,
                       const Tensor& initial_state) {
  const std::int64_t B = x.size(0), C = x.size(1), L = x.size(2), K = weight.size(1);
  CausalConv1dResult r{Tensor::empty({B, C, L}, dtype_of<T>), Tensor::empty({B, C, K - 1}, dtype_of<T>)};
  const Tensor w = weight.to(dtype_of<T>), b = bias.defined() ? bias.to(dtype_of<T>).contiguous() : bias;
  const Tensor h0 = initial_state.defined() ? initial_state.to(dtype_of<T>).contiguous() : initial_state;
  ThreadPool::global().parallel_for(B * C, [&](std::int64_t begin, std::int64_t end) {
    std::vector<T> window(std::size_t(K), T(0));
    for (std::int64_t row = begin; row < end; ++row) {
      const std::int64_t bi = row / C, c = row % C;
      for (std::int64_t k = 0; k + 1 < K; ++k) window[k] = h0.defined() ? h0.data<T>()[row * (K - 1) + k] : T(0);
      const T* xr = x.data<T>() + bi * x.stride(0) + c * x.stride(1);
      convolve_row(xr, x.stride(2), L, w.data<T>() + c * w.stride(0), w.stride(1), K,
                   b.defined() ? b.data<T>()[c] : T(0), activation, window.data(), r.out.data<T>() + row * L);
      std::copy(window.begin(), window.end() - 1, r.final_state.data<T>() + row * (K - 1));
    }
  });
  return r;
}

inline CausalConv1dResult causal_conv1d_cuda(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                             Activation activation, const Tensor& initial_state) {
  constexpr const char* op = "causal_conv1d";
  const Device device = x.device();
  check_cuda_float32(op, device, {{"x", &x}, {"weight", &weight}, {"bias", &bias}, {"initial_state", &initial_state}});
  const std::int64_t B = x.size(0), C = x.size(1), L = x.size(2), K = weight.size(1);
  CausalConv1dResult r{Tensor::empty({B, C, L}, DType::F32, device), Tensor::empty({B, C, K - 1}, DType::F32, device)};
  const Tensor b = bias.defined() ? bias.contiguous() : bias;
  const Tensor h0 = initial_state.defined() ? initial_state.contiguous() : initial_state;
  const detail::CausalConv1dParams params{
      x.data<float>(), x.stride(0), x.stride(1), x.stride(2), weight.data<float>(), weight.stride(0), weight.stride(1),
      b.defined() ? b.data<float>() : nullptr, h0.defined() ? h0.data<float>() : nullptr, r.out.data<float>(),
      r.final_state.data<float>(), B, C, L, K, activation};
  check_launch(op, device, detail::launch_causal_conv1d(params));
  return r;
}

}  // namespace

CausalConv1dResult causal_conv1d(const Tensor& x, const Tensor& weight, const Tensor& bias, Activation activation,
                                 const Tensor& initial_state) {
  constexpr const char* op = "causal_conv1d";
  SUBQ_CHECK(x.defined() && x.dim() == 3, "{}: x: expected (batch, channels, length), found {}", op,
             x.defined() ? to_string(x.shape()) : "nothing");
  SUBQ_CHECK(x.dtype() == DType::F32 || x.dtype() == DType::F64, "{}: x: expected float32 or float64, found {}", op,
             dtype_name(x.dtype()));
  check_weights(op, weight, bias, x.size(1));
  if (initial_state.defined())
    check_shape(op, "initial_state", initial_state, {x.size(0), x.size(1), weight.size(1) - 1});
  if (x.device().is_cuda())
    return on_cuda(op, x.device(), [&] { return causal_conv1d_cuda(x, weight, bias, activation, initial_state); });
  check_same_device(op, Device::cpu(), {{"weight", &weight}, {"bias", &bias}, {"initial_state", &initial_state}});
  return dispatch(FloatTypes{}, op, x.dtype(),
                  [&](auto zero) { return run<decltype(zero)>(x, weight, bias, activation, initial_state); });
}

Tensor causal_conv1d_update(const Tensor& state, const Tensor& x, const Tensor& weight, const Tensor& bias,
                            Activation activation) {
  constexpr const char* op = "causal_conv1d_update";
  SUBQ_CHECK(x.defined() && x.dim() == 2, "{}: x: expected (batch, channels), found {}", op,
             x.defined() ? to_string(x.shape()) : "nothing");
  check_weights(op, weight, bias, x.size(1));
  check_shape(op, "state", state, {x.size(0), x.size(1), weight.size(1) - 1});
  SUBQ_CHECK(state.is_contiguous() && state.dtype() == x.dtype(),
             "{}: state must be contiguous and of x's dtype ({}), found {}", op, dtype_name(x.dtype()),
             dtype_name(state.dtype()));
  const std::int64_t B = x.size(0), C = x.size(1);
  CausalConv1dResult r = causal_conv1d(x.contiguous().view({B, C, 1}), weight, bias, activation, state);
  state.copy_from(r.final_state);
  return r.out.view({B, C});
}

}  // namespace subq::conv
