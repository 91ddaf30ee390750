#include "ssm/s4.hpp"

#include <Eigen/Dense>
#include <cmath>
#include <complex>
#include <numbers>

#include "conv/fft_conv.hpp"
#include "core/check.hpp"
#include "core/dense.hpp"
#include "scan/linear_recurrence.hpp"
#include "ssm/s4_cuda.hpp"

namespace subq::ssm {

namespace {

using cd = std::complex<double>;

cd* cptr(const Tensor& t) { return reinterpret_cast<cd*>(t.data<complex128>()); }

Tensor complex_zeros(const Shape& shape) { return Tensor::zeros(shape, DType::C128); }

// The dense bilinear transition of one SSM over the conjugate-expanded 2N states:
// A = diag(w, conj w) - p q^T with p = (P, conj P), q = (conj P, P).
Eigen::MatrixXcd dplr_transition(const S4Params& p, std::int64_t h) {
  const std::int64_t N = p.A.size(1);
  Eigen::MatrixXcd A = Eigen::MatrixXcd::Zero(2 * N, 2 * N);
  Eigen::VectorXcd pe(2 * N), qe(2 * N);
  for (std::int64_t n = 0; n < N; ++n) {
    const cd w = cptr(p.A)[h * N + n], pn = cptr(p.P)[h * N + n];
    A(n, n) = w, A(N + n, N + n) = std::conj(w);
    pe[n] = pn, pe[N + n] = std::conj(pn);
    qe[n] = std::conj(pn), qe[N + n] = pn;
  }
  A -= pe * qe.transpose();
  const double dt = p.dt.data<double>()[h];
  const Eigen::MatrixXcd I = Eigen::MatrixXcd::Identity(2 * N, 2 * N);
  return (I - dt / 2 * A).partialPivLu().solve(I + dt / 2 * A);
}

Eigen::MatrixXcd matrix_power(Eigen::MatrixXcd base, std::int64_t e) {
  Eigen::MatrixXcd result = Eigen::MatrixXcd::Identity(base.rows(), base.cols());
  for (; e > 0; e >>= 1) {
    if (e & 1) result = result * base;
    base = base * base;
  }
  return result;
}

// sum over the conjugate-expanded states of v / (z - w), for v, w of one SSM (N each).
cd cauchy(const cd* v, const cd* w, std::int64_t N, cd z) {
  cd sum = 0;
  for (std::int64_t n = 0; n < N; ++n) sum += v[n] / (z - w[n]) + std::conj(v[n]) / (z - std::conj(w[n]));
  return sum;
}

// S4's per-state terms of the Cauchy sums: w = dt A (H, N) and, per channel, v = dt times the
// products of the pairs (B, C~), (B, Q), (P, C~), (P, Q), Q = conj(P): (channels, H, 4, N).
struct CauchyTerms {
  Tensor w, v;
};

CauchyTerms cauchy_terms(const S4Params& p) {
  const std::int64_t channels = p.C.size(0), H = p.A.size(0), N = p.A.size(1);
  CauchyTerms t{complex_zeros({H, N}), complex_zeros({channels, H, 4, N})};
  for (std::int64_t h = 0; h < H; ++h) {
    const double dt = p.dt.data<double>()[h];
    for (std::int64_t n = 0; n < N; ++n) cptr(t.w)[h * N + n] = cptr(p.A)[h * N + n] * dt;
    for (std::int64_t c = 0; c < channels; ++c) {
      cd* v = cptr(t.v) + (c * H + h) * 4 * N;
      for (std::int64_t n = 0; n < N; ++n) {
        const cd b = cptr(p.B)[h * N + n], pp = cptr(p.P)[h * N + n], cc = cptr(p.C)[(c * H + h) * N + n];
        v[n] = b * cc * dt, v[N + n] = b * std::conj(pp) * dt, v[2 * N + n] = pp * cc * dt,
        v[3 * N + n] = pp * std::conj(pp) * dt;
      }
    }
  }
  return t;
}

// The spectrum (channels, H, Ld/2 + 1) at the Ld-th roots of unity, from the resolvent.
Tensor cauchy_spectrum_cpu(const CauchyTerms& t, std::int64_t Ld) {
  const std::int64_t channels = t.v.size(0), H = t.w.size(0), N = t.w.size(1), bins = Ld / 2 + 1;
  Tensor spectrum = complex_zeros({channels, H, bins});
  for (std::int64_t c = 0; c < channels; ++c)
    for (std::int64_t h = 0; h < H; ++h) {
      const cd *v = cptr(t.v) + (c * H + h) * 4 * N, *w = cptr(t.w) + h * N;
      for (std::int64_t k = 0; k < bins; ++k) {
        const cd omega = std::polar(1.0, -2 * std::numbers::pi * double(k) / double(Ld));
        const cd z = 2.0 * (1.0 - omega) / (1.0 + omega);
        const cd r00 = cauchy(v, w, N, z), r01 = cauchy(v + N, w, N, z), r10 = cauchy(v + 2 * N, w, N, z),
                 r11 = cauchy(v + 3 * N, w, N, z);
        cptr(spectrum)[(c * H + h) * bins + k] = (r00 - r01 * r10 / (1.0 + r11)) * 2.0 / (1.0 + omega);
      }
    }
  return spectrum;
}

inline Tensor cauchy_spectrum_cuda(const CauchyTerms& t, std::int64_t Ld, Device device) {
  const Tensor w = t.w.to(device), v = t.v.to(device);
  Tensor spectrum = Tensor::empty({t.v.size(0), t.w.size(0), Ld / 2 + 1}, DType::C128, device);
  check_launch("s4_kernel", device,
               detail::launch_cauchy_spectrum({v.data<complex128>(), w.data<complex128>(), spectrum.data<complex128>(),
                                               t.v.size(0), t.w.size(0), t.w.size(1), Ld}));
  return spectrum;
}

// S4: the kernel's spectrum at the Ld-th roots of unity from the resolvent, then irfft.
Tensor dplr_kernel(const S4Params& p, std::int64_t L, Device device) {
  SUBQ_CHECK(p.l_kernel >= 1 && L <= p.l_kernel,
             "s4_kernel: length {} exceeds the length {} that C~ is set up for (raise l_max)", L, p.l_kernel);
  const CauchyTerms terms = cauchy_terms(p);
  const Tensor spectrum =
      device.is_cuda() ? on_cuda("s4_kernel", device, [&] { return cauchy_spectrum_cuda(terms, p.l_kernel, device); })
                       : cauchy_spectrum_cpu(terms, p.l_kernel);
  return conv::irfft(spectrum, p.l_kernel).slice(2, 0, L).contiguous();
}

// S4D's per-state terms: coefficient = C dB (channels, H, N) and log_decay = log dA (H, N).
struct VandermondeTerms {
  Tensor coefficient, log_decay;
};

VandermondeTerms vandermonde_terms(const S4Params& p) {
  const std::int64_t channels = p.C.size(0), H = p.A.size(0), N = p.A.size(1);
  const Discretized d = discretize(p.disc, p.dt, p.A, p.B);
  VandermondeTerms t{complex_zeros({channels, H, N}), complex_zeros({H, N})};
  for (std::int64_t i = 0; i < H * N; ++i) cptr(t.log_decay)[i] = std::log(cptr(d.dA)[i]);
  for (std::int64_t i = 0; i < channels * H * N; ++i) cptr(t.coefficient)[i] = cptr(p.C)[i] * cptr(d.dB)[i % (H * N)];
  return t;
}

// S4D: K[l] = 2 Re sum_n C_n dB_n dA_n^l.
Tensor diagonal_kernel(const S4Params& p, std::int64_t L, Device device) {
  const VandermondeTerms t = vandermonde_terms(p);
  const std::int64_t channels = p.C.size(0), H = p.A.size(0), N = p.A.size(1);
  if (device.is_cuda()) {
    const Tensor coefficient = t.coefficient.to(device), log_decay = t.log_decay.to(device);
    Tensor K = Tensor::empty({channels, H, L}, DType::F64, device);
    launch_on_cuda("s4_kernel", device, [&] {
      return detail::launch_vandermonde(
          {coefficient.data<complex128>(), log_decay.data<complex128>(), K.data<double>(), channels, H, N, L});
    });
    return K;
  }
  Tensor K = Tensor::zeros({channels, H, L}, DType::F64);
  for (std::int64_t ch = 0; ch < channels * H; ++ch)
    for (std::int64_t n = 0; n < N; ++n) {
      const cd coefficient = cptr(t.coefficient)[ch * N + n], log_decay = cptr(t.log_decay)[ch % H * N + n];
      double* k = K.data<double>() + ch * L;
      for (std::int64_t l = 0; l < L; ++l) k[l] += 2 * (coefficient * std::exp(log_decay * double(l))).real();
    }
  return K;
}

double gelu(double x) { return 0.5 * x * (1 + std::erf(x / std::numbers::sqrt2)); }

}  // namespace

Discretization parse_discretization(const std::string& name) {
  if (name == "zoh") return Discretization::Zoh;
  if (name == "bilinear") return Discretization::Bilinear;
  SUBQ_FAIL("discretization '{}': expected zoh or bilinear", name);
}

Discretized discretize(Discretization method, const Tensor& dt, const Tensor& A, const Tensor& B) {
  SUBQ_CHECK(A.defined() && A.dim() == 2, "discretize: A: expected (H, N)");
  const std::int64_t H = A.size(0), N = A.size(1);
  check_shape("discretize", "dt", dt, {H});
  check_shape("discretize", "B", B, {H, N});
  const Tensor a = A.to(DType::C128).contiguous(), b = B.to(DType::C128).contiguous(), step = dt.to(DType::F64).contiguous();
  Discretized d{complex_zeros({H, N}), complex_zeros({H, N})};
  for (std::int64_t i = 0; i < H * N; ++i) {
    const cd dtA = cptr(a)[i] * step.data<double>()[i / N];
    if (method == Discretization::Zoh) {
      cptr(d.dA)[i] = std::exp(dtA);
      cptr(d.dB)[i] = (std::exp(dtA) - 1.0) / cptr(a)[i] * cptr(b)[i];
    } else {
      cptr(d.dA)[i] = (1.0 + dtA / 2.0) / (1.0 - dtA / 2.0);
      cptr(d.dB)[i] = step.data<double>()[i / N] / (1.0 - dtA / 2.0) * cptr(b)[i];
    }
  }
  return d;
}

Tensor dplr_c_tilde(const S4Params& p, std::int64_t L) {
  const std::int64_t channels = p.C.size(0), H = p.A.size(0), N = p.A.size(1);
  Tensor tilde = complex_zeros({channels, H, N});
  for (std::int64_t h = 0; h < H; ++h) {
    const Eigen::MatrixXcd dA_L = matrix_power(dplr_transition(p, h), L);
    for (std::int64_t c = 0; c < channels; ++c) {
      Eigen::VectorXcd C(2 * N);
      for (std::int64_t n = 0; n < N; ++n) C[n] = cptr(p.C)[(c * H + h) * N + n], C[N + n] = std::conj(C[n]);
      const Eigen::VectorXcd corrected = C - dA_L.transpose() * C;
      for (std::int64_t n = 0; n < N; ++n) cptr(tilde)[(c * H + h) * N + n] = corrected[n];
    }
  }
  return tilde;
}

Tensor s4_kernel(const S4Params& p, std::int64_t L, Device device) {
  SUBQ_CHECK(L >= 1, "s4_kernel: length must be >= 1, found {}", L);
  return p.mode == S4Mode::Dplr ? dplr_kernel(p, L, device) : diagonal_kernel(p, L, device);
}

struct S4Block::Impl {
  S4Params params;        // on the CPU: the kernel's per-state terms are made on the host
  Tensor D;               // (channels, H) float64, on the block's device
  Tensor output_weight;   // (2H, channels * H)
  Tensor output_bias;     // (2H)

  // y (batch, channels, H, L) of the SSM plus the skip -> the block's output (batch, H, L).
  Tensor finish(const Tensor& ssm_out, const Tensor& x) const {
    const std::int64_t B = ssm_out.size(0), C = ssm_out.size(1), H = ssm_out.size(2), L = ssm_out.size(3);
    const Device device = x.device();
    Tensor y = ssm_out.contiguous();
    const Tensor xd = x.to(DType::F64).contiguous();
    if (device.is_cuda())
      launch_on_cuda("S4Block", device, [&] {
        return detail::launch_gelu_skip(y.data<double>(), D.data<double>(), xd.data<double>(), B, C, H, L);
      });
    else
      gelu_skip_cpu(y, xd);
    // output_linear (a 1x1 convolution to 2H features) and GLU over the features.
    const Tensor z = linear(y.view({B, C * H, L}).transpose(1, 2), output_weight, output_bias);  // (B, L, 2H)
    Tensor out = Tensor::empty({B, H, L}, DType::F64, device);
    if (device.is_cuda())
      launch_on_cuda("S4Block", device,
                     [&] { return detail::launch_feature_glu(z.data<double>(), out.data<double>(), B, H, L); });
    else
      feature_glu_cpu(z, out);
    return out.to(x.dtype());
  }

  void gelu_skip_cpu(const Tensor& y, const Tensor& xd) const {
    const std::int64_t C = y.size(1), H = y.size(2), L = y.size(3);
    double* yp = y.data<double>();
    for (std::int64_t i = 0; i < y.numel(); ++i) {
      const std::int64_t l = i % L, h = (i / L) % H, c = (i / (L * H)) % C, b = i / (L * H * C);
      yp[i] = gelu(yp[i] + D.data<double>()[c * H + h] * xd.data<double>()[(b * H + h) * L + l]);
    }
  }

  static void feature_glu_cpu(const Tensor& z, const Tensor& out) {
    const std::int64_t B = out.size(0), H = out.size(1), L = out.size(2);
    for (std::int64_t b = 0; b < B; ++b)
      for (std::int64_t l = 0; l < L; ++l)
        for (std::int64_t h = 0; h < H; ++h) {
          const double* zr = z.data<double>() + (b * L + l) * 2 * H;
          out.data<double>()[(b * H + h) * L + l] = zr[h] / (1 + std::exp(-zr[H + h]));
        }
  }
};

S4Block::S4Block(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
S4Block::~S4Block() = default;
S4Block::S4Block(S4Block&&) noexcept = default;
S4Block& S4Block::operator=(S4Block&&) noexcept = default;

std::int64_t S4Block::H() const { return impl_->params.A.size(0); }
Device S4Block::device() const { return impl_->D.device(); }
const S4Params& S4Block::params() const { return impl_->params; }

namespace {

// The sizes Options leaves at 0, from the stored tensors: H, N, channels, n_ssm.
S4Block::Options stored_sizes(Checkpoint& ck, const std::string& prefix, S4Block::Options o) {
  const std::string src = ck.dir().string();
  const Shape& dt = ck.shape(prefix + "layer.kernel.inv_dt");
  SUBQ_CHECK(dt.size() == 2 && dt[1] == 1, "{}: {}layer.kernel.inv_dt: expected (H, 1), found {}", src, prefix, to_string(dt));
  const Shape& a = ck.shape(prefix + "layer.kernel.A_real");
  SUBQ_CHECK(a.size() == 2 && a[0] >= 1 && dt[0] % a[0] == 0,
             "{}: {}layer.kernel.A_real: expected (n_ssm, N) with n_ssm dividing H = {}, found {}", src, prefix, dt[0],
             to_string(a));
  const Shape& c = ck.shape(prefix + "layer.kernel.C");
  SUBQ_CHECK(c.size() == 4 && c[1] == dt[0] && c[2] == a[1] && c[3] == 2,
             "{}: {}layer.kernel.C: expected (channels, {}, {}, 2), found {}", src, prefix, dt[0], a[1], to_string(c));
  o.d_model = dt[0], o.n_ssm = a[0], o.d_state = a[1], o.channels = c[0];
  return o;
}

}  // namespace

S4Block S4Block::load(Checkpoint& ck, const std::string& prefix, const Options& options) {
  Options o = options.d_model > 0 ? options : stored_sizes(ck, prefix, options);
  if (o.n_ssm == 0) o.n_ssm = o.d_model;
  SUBQ_CHECK(o.d_model > 0 && o.d_state > 0 && o.channels > 0 && o.d_model % o.n_ssm == 0,
             "S4Block: d_model {}, d_state {} and channels {} must be > 0, and n_ssm {} divide d_model", o.d_model,
             o.d_state, o.channels, o.n_ssm);
  auto take = [&](const std::string& name, const Shape& shape) { return ck.take_on_cpu(prefix + name, shape, DType::F64); };
  auto impl = std::make_unique<Impl>();
  S4Params& p = impl->params;
  p.mode = o.mode, p.disc = o.disc;
  const std::int64_t H = o.d_model, n_ssm = o.n_ssm, N = o.d_state, channels = o.channels;
  const Tensor inv_dt = take("layer.kernel.inv_dt", {H, 1}), A_real = take("layer.kernel.A_real", {n_ssm, N}),
               A_imag = take("layer.kernel.A_imag", {n_ssm, N});
  const Tensor B = view_as_complex(take("layer.kernel.B", {1, n_ssm, N, 2}).contiguous());
  const Tensor C = view_as_complex(take("layer.kernel.C", {channels, H, N, 2}).contiguous());
  // s4's transforms: dt = exp(inv_dt), A = -exp(A_real) - i A_imag; SSM copies repeat over H.
  p.dt = Tensor::empty({H}, DType::F64), p.A = complex_zeros({H, N}), p.B = complex_zeros({H, N});
  for (std::int64_t h = 0; h < H; ++h) {
    p.dt.data<double>()[h] = std::exp(inv_dt.data<double>()[h]);
    for (std::int64_t n = 0; n < N; ++n) {
      const std::int64_t src = (h % n_ssm) * N + n;
      cptr(p.A)[h * N + n] = {-std::exp(A_real.data<double>()[src]), -A_imag.data<double>()[src]};
      cptr(p.B)[h * N + n] = cptr(B)[src];
    }
  }
  p.C = C.clone();
  if (p.mode == S4Mode::Dplr) {
    const Tensor P = view_as_complex(take("layer.kernel.P", {1, n_ssm, N, 2}).contiguous());
    p.P = complex_zeros({1, H, N});
    for (std::int64_t i = 0; i < H * N; ++i) cptr(p.P)[i] = cptr(P)[(i / N % n_ssm) * N + i % N];
    const std::string l_kernel = prefix + "layer.kernel.l_kernel";
    p.l_kernel = ck.contains(l_kernel) ? ck.take_on_cpu(l_kernel, {}, DType::I64).data<std::int64_t>()[0] : 0;
    if (p.l_kernel == 0) {
      SUBQ_CHECK(o.l_max >= 1, "{}: C is not yet C~ (l_kernel 0): S4Block::Options::l_max must say the kernel length",
                 ck.dir().string());
      p.C = dplr_c_tilde(p, o.l_max);
      p.l_kernel = o.l_max;
    }
  }
  auto take_on_device = [&](const std::string& name, const Shape& shape) {
    return ck.take(prefix + name, shape, DType::F64).contiguous();
  };
  impl->D = take_on_device("layer.D", {channels, H});
  impl->output_weight = take_on_device("output_linear.0.weight", {2 * H, channels * H});
  impl->output_bias = take_on_device("output_linear.0.bias", {2 * H});
  return S4Block(std::move(impl));
}

Tensor S4Block::forward(const Tensor& x) const {
  SUBQ_CHECK(x.defined() && x.dim() == 3 && x.size(1) == H(), "S4Block: x: expected (batch, {}, length), found {}", H(),
             x.defined() ? to_string(x.shape()) : "nothing");
  SUBQ_CHECK(x.device() == device(), "S4Block: x is on {}, the block's weights on {}", to_string(x.device()),
             to_string(device()));
  const Tensor K = s4_kernel(impl_->params, x.size(2), x.device());
  return impl_->finish(conv::fft_causal_conv(x.to(DType::F64), K), x);
}

Tensor S4Block::forward_recurrent(const Tensor& x) const {
  const S4Params& p = impl_->params;
  SUBQ_CHECK(p.mode == S4Mode::Diag, "S4Block::forward_recurrent: only S4D (diagonal) layers step their states");
  SUBQ_CHECK(device().is_cpu() && x.device().is_cpu(), "S4Block::forward_recurrent: runs on the CPU only (x on {})",
             to_string(x.device()));
  SUBQ_CHECK(x.defined() && x.dim() == 3 && x.size(1) == H(), "S4Block: x: expected (batch, {}, length), found {}", H(),
             x.defined() ? to_string(x.shape()) : "nothing");
  const std::int64_t batch = x.size(0), H = x.size(1), L = x.size(2), N = p.A.size(1), channels = p.C.size(0);
  const Discretized d = discretize(p.disc, p.dt, p.A, p.B);
  const Tensor xd = x.to(DType::F64).contiguous();
  // Every (h, n) state: s[t] = dA s[t-1] + dB u[t], as one (batch, H * N, L) linear recurrence.
  Tensor b = Tensor::empty({batch, H * N, L}, DType::C128);
  for (std::int64_t i = 0; i < b.numel(); ++i) {
    const std::int64_t l = i % L, hn = (i / L) % (H * N), bi = i / (L * H * N);
    cptr(b)[i] = cptr(d.dB)[hn] * xd.data<double>()[(bi * H + hn / N) * L + l];
  }
  const Tensor a = d.dA.view({1, H * N, 1}).expand({batch, H * N, L});
  const Tensor states = scan::linear_recurrence(a, b).h;
  Tensor y = Tensor::zeros({batch, channels, H, L}, DType::F64);
  for (std::int64_t bi = 0; bi < batch; ++bi)
    for (std::int64_t c = 0; c < channels; ++c)
      for (std::int64_t h = 0; h < H; ++h)
        for (std::int64_t n = 0; n < N; ++n) {
          const cd coefficient = cptr(p.C)[(c * H + h) * N + n];
          const cd* s = cptr(states) + ((bi * H + h) * N + n) * L;
          double* yr = y.data<double>() + ((bi * channels + c) * H + h) * L;
          for (std::int64_t l = 0; l < L; ++l) yr[l] += 2 * (coefficient * s[l]).real();
        }
  return impl_->finish(y, x);
}

}  // namespace subq::ssm
