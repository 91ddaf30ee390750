#include "conv/hyena.hpp"

#include <cmath>
#include <vector>

#include "conv/causal_conv1d.hpp"
#include "conv/fft_conv.hpp"
#include "core/check.hpp"
#include "core/dense.hpp"

namespace subq::conv {

namespace {

// One Linear(+Sin) stage of the implicit filter MLP.
struct FilterStage {
  Tensor weight, bias, freq;  // freq undefined for the last (plain) stage
};

}  // namespace

struct HyenaOperator::Impl {
  std::int64_t d_model, order, l_max;
  Tensor in_proj, in_bias, short_filter, short_bias, out_proj, out_bias;  // float64
  Tensor z, t, deltas, skip;                                              // positional embedding, decay, bias
  std::vector<FilterStage> mlp;

  // h = implicit_filter(z[:L]) * exp(-t |deltas|): (L, (order-1) * d_model).
  Tensor filter_values(std::int64_t L) const {
    Tensor h = z.slice(0, 0, L).contiguous();
    for (const FilterStage& s : mlp) {
      h = linear(h, s.weight, s.bias);
      if (!s.freq.defined()) break;
      const std::int64_t n = h.size(1);
      for (std::int64_t i = 0; i < h.numel(); ++i) h.data<double>()[i] = std::sin(s.freq.data<double>()[i % n] * h.data<double>()[i]);
    }
    const std::int64_t n = h.size(1);
    for (std::int64_t l = 0; l < L; ++l)
      for (std::int64_t c = 0; c < n; ++c)
        h.data<double>()[l * n + c] *= std::exp(-t.data<double>()[l] * std::abs(deltas.data<double>()[c]));
    return h;
  }
};

HyenaOperator::HyenaOperator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HyenaOperator::~HyenaOperator() = default;
HyenaOperator::HyenaOperator(HyenaOperator&&) noexcept = default;
HyenaOperator& HyenaOperator::operator=(HyenaOperator&&) noexcept = default;

HyenaOperator HyenaOperator::load(const SafetensorsFile& w, const Options& options) {
  SUBQ_CHECK(options.order >= 2, "HyenaOperator: order must be >= 2, found {}", options.order);
  auto impl = std::make_unique<Impl>();
  const Tensor out_proj = w.get("out_proj.weight", DType::F64);
  SUBQ_CHECK(out_proj.dim() == 2 && out_proj.size(0) == out_proj.size(1), "{}: out_proj.weight: expected (d_model, d_model), found {}",
             w.source(), to_string(out_proj.shape()));
  const std::int64_t D = out_proj.size(0), N = options.order, inner = D * (N + 1), filtered = D * (N - 1);
  impl->d_model = D, impl->order = N;
  impl->out_proj = out_proj;
  impl->out_bias = w.require("out_proj.bias", {D}, DType::F64);
  impl->in_proj = w.require("in_proj.weight", {inner, D}, DType::F64);
  impl->in_bias = w.require("in_proj.bias", {inner}, DType::F64);
  impl->short_filter = w.require("short_filter.weight", {inner, 1, 3}, DType::F64).contiguous().view({inner, 3});
  impl->short_bias = w.require("short_filter.bias", {inner}, DType::F64);
  const Tensor z = w.get("filter_fn.pos_emb.z", DType::F64);
  SUBQ_CHECK(z.dim() == 3 && z.size(0) == 1, "{}: filter_fn.pos_emb.z: expected (1, l_max, emb_dim), found {}", w.source(),
             to_string(z.shape()));
  const std::int64_t l_max = z.size(1), emb = z.size(2);
  impl->l_max = options.l_max > 0 ? std::min(options.l_max, l_max) : l_max;
  impl->z = z.contiguous().view({l_max, emb});
  impl->t = w.require("filter_fn.pos_emb.t", {1, l_max, 1}, DType::F64).contiguous();
  impl->deltas = w.require("filter_fn.modulation.deltas", {1, 1, filtered}, DType::F64).contiguous();
  impl->skip = w.require("filter_fn.bias", {filtered}, DType::F64).contiguous();
  // implicit_filter: Linear, Sin, (Linear, Sin)*, Linear without bias.
  std::int64_t in = emb;
  for (int i = 0;; i += 2) {
    const std::string p = "filter_fn.implicit_filter." + std::to_string(i) + ".";
    if (!w.contains(p + "weight")) break;
    const Tensor weight = w.get(p + "weight", DType::F64);
    SUBQ_CHECK(weight.dim() == 2 && weight.size(1) == in, "{}: {}weight: expected (width, {}), found {}", w.source(), p, in,
               to_string(weight.shape()));
    const std::string sin = "filter_fn.implicit_filter." + std::to_string(i + 1) + ".freq";
    FilterStage s{weight, w.contains(p + "bias") ? w.require(p + "bias", {weight.size(0)}, DType::F64) : Tensor{},
                  w.contains(sin) ? w.require(sin, {1, weight.size(0)}, DType::F64).contiguous() : Tensor{}};
    in = weight.size(0);
    impl->mlp.push_back(s);
    if (!s.freq.defined()) break;
  }
  SUBQ_CHECK(!impl->mlp.empty() && !impl->mlp.back().freq.defined() && in == filtered,
             "{}: filter_fn.implicit_filter: expected sine stages ending in a linear layer to {} channels", w.source(), filtered);
  return HyenaOperator(std::move(impl));
}

Tensor HyenaOperator::filters(std::int64_t L) const {
  SUBQ_CHECK(L >= 1 && L <= impl_->l_max, "HyenaOperator: length {} outside [1, l_max = {}]", L, impl_->l_max);
  const std::int64_t D = impl_->d_model, O = impl_->order - 1;
  const Tensor h = impl_->filter_values(L);  // (L, O * D)
  Tensor k = Tensor::empty({O, D, L}, DType::F64);
  for (std::int64_t l = 0; l < L; ++l)
    for (std::int64_t c = 0; c < O * D; ++c) k.data<double>()[c * L + l] = h.data<double>()[l * O * D + c];
  return k;
}

namespace {

// The operator in u's dtype T (float32 or float64); the filters are made in float64 either way.
template <class T>
Tensor hyena_forward(const Tensor& u, const Tensor& filters, const Tensor& in_proj, const Tensor& in_bias,
                     const Tensor& short_filter, const Tensor& short_bias, const Tensor& skip, const Tensor& out_proj,
                     const Tensor& out_bias, std::int64_t order) {
  const std::int64_t B = u.size(0), L = u.size(1), D = u.size(2), N = order;
  auto as_t = [](const Tensor& t) { return t.to(dtype_of<T>); };
  const Tensor k = as_t(filters);
  // (batch, inner, L): the projection through the depthwise causal short filter.
  const Tensor uc =
      causal_conv1d(linear(u, as_t(in_proj), as_t(in_bias)).transpose(1, 2), as_t(short_filter), as_t(short_bias)).out;
  auto part = [&](std::int64_t i) { return uc.slice(1, i * D, (i + 1) * D).contiguous(); };  // x_i, and v = part(N)
  Tensor v = part(N);
  T* vp = v.data<T>();
  for (std::int64_t o = 0; o < N - 1; ++o) {
    const Tensor x = part(N - 1 - o);
    for (std::int64_t i = 0; i < v.numel(); ++i) vp[i] *= x.data<T>()[i];
    const Tensor y = fft_causal_conv(v, k.slice(0, o, o + 1)).view({B, D, L});
    const double* bias = skip.data<double>() + o * D;
    for (std::int64_t i = 0; i < v.numel(); ++i) vp[i] = y.data<T>()[i] + T(bias[i / L % D]) * vp[i];
  }
  const Tensor x0 = part(0);
  for (std::int64_t i = 0; i < v.numel(); ++i) vp[i] *= x0.data<T>()[i];
  return linear(v.transpose(1, 2), as_t(out_proj), as_t(out_bias));
}

}  // namespace

Tensor HyenaOperator::forward(const Tensor& u) const {
  const Impl& m = *impl_;
  const std::int64_t D = m.d_model;
  SUBQ_CHECK(u.defined() && u.dim() == 3 && u.size(2) == D, "HyenaOperator: u: expected (batch, length, {}), found {}", D,
             u.defined() ? to_string(u.shape()) : "nothing");
  SUBQ_CHECK(u.dtype() == DType::F32 || u.dtype() == DType::F64, "HyenaOperator: u: expected float32 or float64, found {}",
             dtype_name(u.dtype()));
  const Tensor k = filters(u.size(1));
  auto run = [&](auto zero) {
    using T = decltype(zero);
    return hyena_forward<T>(u.contiguous(), k, m.in_proj, m.in_bias, m.short_filter, m.short_bias, m.skip, m.out_proj,
                            m.out_bias, m.order);
  };
  return u.dtype() == DType::F64 ? run(0.0) : run(0.0f);
}

}  // namespace subq::conv
