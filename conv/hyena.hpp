#pragma once
// The Hyena operator, as HazyResearch/safari's standalone_hyena.py defines it, on u (batch,
// length, d_model):
//   x_0 .. x_{N-1}, v = split(causal_conv3(in_proj(u)))      N = order, depthwise short filter
//   for i = N-1 .. 1:  v = fftconv(v * x_i, k_i) + bias_i * (v * x_i)
//   y = out_proj(v * x_0)
// with the long filters k (order - 1, d_model, length) implicit: an MLP with sine activations of
// a positional embedding z(t), times an exponential decay exp(-t |delta|).
#include <memory>

#include <string>

#include "../core/checkpoint.hpp"
#include "../core/tensor.hpp"

namespace subq::conv {

class HyenaOperator {
 public:
  struct Options {
    std::int64_t order = 2;  // depth of the gating recurrence (N)
    std::int64_t l_max = 0;  // longest input; 0 takes the positional embedding's length
    /// The sizes, for a checkpoint that does not store them (a generated one); 0 reads them from
    /// the stored tensors. The filter MLP: Linear(emb_dim, filter_width) and Sin, then
    /// sine_stages - 1 times Linear(filter_width, filter_width) and Sin, then a Linear to the filters.
    std::int64_t d_model = 0, emb_dim = 0, filter_width = 0, sine_stages = 0;
  };
  /// From safari's state-dict names under prefix: in_proj, short_filter, out_proj and
  /// filter_fn.{pos_emb.z, pos_emb.t, implicit_filter.*, modulation.deltas, bias}.
  static HyenaOperator load(Checkpoint& checkpoint, const std::string& prefix, const Options& options);
  ~HyenaOperator();
  HyenaOperator(HyenaOperator&&) noexcept;
  HyenaOperator& operator=(HyenaOperator&&) noexcept;

  /// The long filters for length L <= l_max: (order - 1, d_model, L) float64, on the operator's
  /// device (the checkpoint's).
  Tensor filters(std::int64_t L) const;
  /// u (batch, length, d_model) float32/float64 on the operator's device -> y (batch, length,
  /// d_model), computed in u's dtype (the filters are made in float64, then rounded to it); on
  /// CUDA float32 (the short convolution's kernel is float32).
  Tensor forward(const Tensor& u) const;

 private:
  struct Impl;
  explicit HyenaOperator(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace subq::conv
