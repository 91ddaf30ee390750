#pragma once
// S4 and S4D layers as state-spaces/s4's standalone S4Block defines them (models/s4/s4.py, the
// transposed block: x and y are (batch, H, length)). A layer of H independent SSMs, each with N
// complex states (one of each conjugate pair), turns its input into
//   y = glu(output_linear(gelu(K * x + D x)))
// where K (channels, H, L) is the SSM's convolution kernel:
//   S4D (diag)  K[l] = 2 Re sum_n C_n dB_n dA_n^l        (Vandermonde), dA, dB by ZOH or bilinear
//   S4  (dplr)  A = diag(w) - P P^*, bilinear; K from the resolvent at the roots of unity
//               (Cauchy kernel with the Woodbury correction), then an inverse FFT.
#include <cstdint>
#include <memory>

#include <string>

#include "../core/checkpoint.hpp"
#include "../core/tensor.hpp"

namespace subq::ssm {

enum class S4Mode { Dplr, Diag };
enum class Discretization { Zoh, Bilinear };

/// "zoh" or "bilinear".
Discretization parse_discretization(const std::string& name);

struct Discretized {
  Tensor dA;  // (H, N) complex128
  Tensor dB;  // (H, N) complex128
};

/// x' = A x + B u sampled with step dt (H): ZOH  dA = exp(dt A), dB = (dA - 1) / A * B;
/// bilinear  dA = (1 + dt A/2) / (1 - dt A/2), dB = dt / (1 - dt A/2) * B. A, B (H, N) diagonal.
Discretized discretize(Discretization method, const Tensor& dt, const Tensor& A, const Tensor& B);

/// The SSM of an S4/S4D layer after s4's parameter transforms; N is half the state size.
struct S4Params {
  S4Mode mode = S4Mode::Diag;
  Discretization disc = Discretization::Zoh;  // S4D only: S4's DPLR kernel is bilinear
  Tensor dt;  // (H) float64
  Tensor A;   // (H, N) complex128, the diagonal
  Tensor B;   // (H, N) complex128
  Tensor C;   // (channels, H, N) complex128; for S4, C~ = (I - dA^L)^T C of length l_kernel
  Tensor P;   // (1, H, N) complex128, S4 only: the low-rank term
  std::int64_t l_kernel = 0;  // S4 only: the length C~ is set up for
};

/// C~ = (I - dA^L)^T C over the conjugate-expanded states, as s4 does on first use: the
/// truncated generating function of the kernel depends on C only through C~.
Tensor dplr_c_tilde(const S4Params& p, std::int64_t L);

/// The convolution kernel (channels, H, L) float64, made on device. S4 needs L <= l_kernel.
Tensor s4_kernel(const S4Params& p, std::int64_t L, Device device = Device::cpu());

class S4Block {
 public:
  struct Options {
    S4Mode mode = S4Mode::Diag;
    Discretization disc = Discretization::Zoh;
    std::int64_t l_max = 0;  // S4: the kernel length C~ is set up for when the file holds C (l_kernel 0)
    /// The sizes, for a checkpoint that does not store them (a generated one); d_model 0 reads
    /// them from the stored tensors. n_ssm 0: one SSM per feature.
    std::int64_t d_model = 0, d_state = 0, channels = 1, n_ssm = 0;
  };
  /// From s4's state-dict names under prefix: layer.kernel.{inv_dt, A_real, A_imag, B, C, P,
  /// l_kernel}, layer.D, output_linear.0.{weight, bias}; view_as_real pairs for the complex tensors.
  /// The block runs on the checkpoint's device (its SSM parameters stay on the CPU, where the
  /// kernel's per-state terms are made).
  static S4Block load(Checkpoint& checkpoint, const std::string& prefix, const Options& options);

  std::int64_t H() const;
  const S4Params& params() const;
  Device device() const;

  /// x (batch, H, L) on the block's device -> y (batch, H, L), convolution mode (FFT; cuFFT on a
  /// GPU), computed in float64 and returned in x's dtype.
  Tensor forward(const Tensor& x) const;
  /// The same outputs from the recurrence, each state stepped by the scan core (S4D, CPU only).
  Tensor forward_recurrent(const Tensor& x) const;

  ~S4Block();
  S4Block(S4Block&&) noexcept;
  S4Block& operator=(S4Block&&) noexcept;

 private:
  struct Impl;
  explicit S4Block(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace subq::ssm
