#include "conv/hyena.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "conv/causal_conv1d.hpp"
#include "conv/fft_conv.hpp"
#include "conv/hyena_cuda.hpp"
#include "core/check.hpp"
#include "core/dense.hpp"
#include "core/dispatch.hpp"

namespace subq::conv {

namespace {

// One Linear(+Sin) stage of the implicit filter MLP.
struct FilterStage {
  Tensor weight, bias, freq;  // freq undefined for the last (plain) stage
};

// The element-wise steps, each a CPU loop (the spec) or its kernel in conv/hyena.cu, on
// contiguous tensors of one device.

// h (rows, n) = sin(freq h), freq (n).
void filter_sine(const Tensor& h, const Tensor& freq) {
  const std::int64_t n = h.size(1), rows = h.size(0);
  double* hp = h.data<double>();
  const double* f = freq.data<double>();
  if (h.device().is_cuda())
    return launch_on_cuda("HyenaOperator", h.device(), [&] { return detail::launch_filter_sine(hp, f, rows, n); });
  for (std::int64_t i = 0; i < rows * n; ++i) hp[i] = std::sin(f[i % n] * hp[i]);
}

// h (L, n) *= exp(-t |deltas|), t (L), deltas (n).
void filter_modulation(const Tensor& h, const Tensor& t, const Tensor& deltas) {
  const std::int64_t L = h.size(0), n = h.size(1);
  double* hp = h.data<double>();
  const double *tp = t.data<double>(), *dp = deltas.data<double>();
  if (h.device().is_cuda())
    return launch_on_cuda("HyenaOperator", h.device(),
                          [&] { return detail::launch_filter_modulation(hp, tp, dp, L, n); });
  for (std::int64_t l = 0; l < L; ++l)
    for (std::int64_t c = 0; c < n; ++c) hp[l * n + c] *= std::exp(-tp[l] * std::abs(dp[c]));
}

// v *= x element-wise.
template <class T>
void gate(const Tensor& v, const Tensor& x) {
  T* vp = v.data<T>();
  const T* xp = x.data<T>();
  if (v.device().is_cuda())
    return launch_on_cuda("HyenaOperator", v.device(), [&] { return detail::launch_gate(vp, xp, v.numel()); });
  for (std::int64_t i = 0; i < v.numel(); ++i) vp[i] *= xp[i];
}

// v (batch, D, L) = y + bias v, bias (D) float64: the long convolution and its skip term.
template <class T>
void add_conv_skip(const Tensor& v, const Tensor& y, const double* bias) {
  const std::int64_t D = v.size(1), L = v.size(2);
  T* vp = v.data<T>();
  const T* yp = y.data<T>();
  if (v.device().is_cuda())
    return launch_on_cuda("HyenaOperator", v.device(),
                          [&] { return detail::launch_conv_skip(vp, yp, bias, v.numel(), D, L); });
  for (std::int64_t i = 0; i < v.numel(); ++i) vp[i] = yp[i] + T(bias[i / L % D]) * vp[i];
}

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
      filter_sine(h, s.freq);
    }
    filter_modulation(h, t, deltas);
    return h;
  }
};

HyenaOperator::HyenaOperator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HyenaOperator::~HyenaOperator() = default;
HyenaOperator::HyenaOperator(HyenaOperator&&) noexcept = default;
HyenaOperator& HyenaOperator::operator=(HyenaOperator&&) noexcept = default;

namespace {

// The sizes Options leaves at 0, from the stored tensors.
HyenaOperator::Options stored_sizes(Checkpoint& ck, const std::string& prefix, HyenaOperator::Options o) {
  const Shape& out = ck.shape(prefix + "out_proj.weight");
  SUBQ_CHECK(out.size() == 2 && out[0] == out[1], "{}: {}out_proj.weight: expected (d_model, d_model), found {}",
             ck.dir().string(), prefix, to_string(out));
  const Shape& z = ck.shape(prefix + "filter_fn.pos_emb.z");
  SUBQ_CHECK(z.size() == 3 && z[0] == 1, "{}: {}filter_fn.pos_emb.z: expected (1, l_max, emb_dim), found {}",
             ck.dir().string(), prefix, to_string(z));
  const Shape& first = ck.shape(prefix + "filter_fn.implicit_filter.0.weight");
  SUBQ_CHECK(first.size() == 2, "{}: {}filter_fn.implicit_filter.0.weight: expected (width, emb_dim), found {}",
             ck.dir().string(), prefix, to_string(first));
  o.d_model = out[0], o.emb_dim = z[2], o.filter_width = first[0];
  o.l_max = o.l_max > 0 ? std::min(o.l_max, z[1]) : z[1];
  o.sine_stages = 0;  // Linear + Sin pairs: implicit_filter.{2i}.weight with .{2i+1}.freq
  while (ck.contains(prefix + "filter_fn.implicit_filter." + std::to_string(2 * o.sine_stages + 1) + ".freq"))
    ++o.sine_stages;
  return o;
}

}  // namespace

HyenaOperator HyenaOperator::load(Checkpoint& ck, const std::string& prefix, const Options& options) {
  SUBQ_CHECK(options.order >= 2, "HyenaOperator: order must be >= 2, found {}", options.order);
  const Options o = options.d_model > 0 ? options : stored_sizes(ck, prefix, options);
  SUBQ_CHECK(o.d_model > 0 && o.emb_dim > 0 && o.filter_width > 0 && o.sine_stages > 0 && o.l_max > 0,
             "HyenaOperator: d_model, emb_dim, filter_width, sine_stages and l_max must all be > 0");
  auto take = [&](const std::string& name, const Shape& shape) { return ck.take(prefix + name, shape, DType::F64); };
  auto impl = std::make_unique<Impl>();
  const std::int64_t D = o.d_model, N = o.order, inner = D * (N + 1), filtered = D * (N - 1);
  // The positional embedding's stored length, which l_max may cut.
  const std::int64_t stored_l = options.d_model > 0 ? o.l_max : ck.shape(prefix + "filter_fn.pos_emb.z")[1];
  impl->d_model = D, impl->order = N, impl->l_max = o.l_max;
  impl->in_proj = take("in_proj.weight", {inner, D});
  impl->in_bias = take("in_proj.bias", {inner});
  impl->short_filter = take("short_filter.weight", {inner, 1, 3}).contiguous().view({inner, 3});
  impl->short_bias = take("short_filter.bias", {inner});
  impl->out_proj = take("out_proj.weight", {D, D});
  impl->out_bias = take("out_proj.bias", {D});
  impl->z = take("filter_fn.pos_emb.z", {1, stored_l, o.emb_dim}).contiguous().view({stored_l, o.emb_dim});
  impl->t = take("filter_fn.pos_emb.t", {1, stored_l, 1}).contiguous();
  // implicit_filter: (Linear, Sin) * sine_stages, then a Linear without bias to the filters.
  for (std::int64_t i = 0; i <= o.sine_stages; ++i) {
    const std::string p = "filter_fn.implicit_filter." + std::to_string(2 * i) + ".";
    const bool sine = i < o.sine_stages;
    const std::int64_t in = i == 0 ? o.emb_dim : o.filter_width, out = sine ? o.filter_width : filtered;
    impl->mlp.push_back({take(p + "weight", {out, in}), sine ? take(p + "bias", {out}) : Tensor{},
                         sine ? take("filter_fn.implicit_filter." + std::to_string(2 * i + 1) + ".freq", {1, out}).contiguous()
                              : Tensor{}});
  }
  impl->deltas = take("filter_fn.modulation.deltas", {1, 1, filtered}).contiguous();
  impl->skip = take("filter_fn.bias", {filtered}).contiguous();
  return HyenaOperator(std::move(impl));
}

Tensor HyenaOperator::filters(std::int64_t L) const {
  SUBQ_CHECK(L >= 1 && L <= impl_->l_max, "HyenaOperator: length {} outside [1, l_max = {}]", L, impl_->l_max);
  const std::int64_t D = impl_->d_model, O = impl_->order - 1;
  return impl_->filter_values(L).transpose(0, 1).contiguous().view({O, D, L});
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
  const Tensor v = part(N);
  for (std::int64_t o = 0; o < N - 1; ++o) {
    gate<T>(v, part(N - 1 - o));
    const Tensor y = fft_causal_conv(v, k.slice(0, o, o + 1)).view({B, D, L});
    add_conv_skip<T>(v, y, skip.data<double>() + o * D);
  }
  gate<T>(v, part(0));
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
  SUBQ_CHECK(u.device() == m.out_proj.device(), "HyenaOperator: u is on {}, the operator's weights on {}",
             to_string(u.device()), to_string(m.out_proj.device()));
  const Tensor k = filters(u.size(1));
  return dispatch(FloatTypes{}, "HyenaOperator", u.dtype(), [&](auto zero) {
    return hyena_forward<decltype(zero)>(u.contiguous(), k, m.in_proj, m.in_bias, m.short_filter, m.short_bias, m.skip,
                                         m.out_proj, m.out_bias, m.order);
  });
}

}  // namespace subq::conv
