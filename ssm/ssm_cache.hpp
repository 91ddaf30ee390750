#pragma once
// The state a Mamba or Mamba-2 model carries from one call to the next: constant in size
// whatever the number of tokens seen, which is what makes decoding cost the same per token.
#include <vector>

#include "../core/tensor.hpp"

namespace subq::ssm {

struct SsmCache {
  /// Per layer, (batch, channels, conv_kernel - 1): the last inputs of the short convolution.
  std::vector<Tensor> conv;
  /// Per layer, the scan state: (batch, intermediate, N) for Mamba, (batch, heads, P, N) for Mamba-2.
  std::vector<Tensor> ssm;

  /// True before the first call: the model starts from zeros and fills the cache.
  bool empty() const { return conv.empty(); }
};

}  // namespace subq::ssm
