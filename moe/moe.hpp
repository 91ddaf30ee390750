#pragma once
// The feed-forward blocks of Jamba-style models: the SwiGLU MLP and the sparse mixture of such
// experts.
#include <vector>

#include "../core/dense.hpp"
#include "../core/tensor.hpp"

namespace subq::moe {

/// Jamba's sparse MoE: p = softmax(router x) over the experts; each token goes to its top_k experts
/// by p (ties to the lower index), weighted by their p as they are (not renormalised). Tokens are
/// grouped by expert, so each expert runs once on all of its tokens. x (..., H); router (E, H);
/// float32, all on the CPU or all on one GPU.
Tensor mixture_of_experts(const Tensor& x, const Tensor& router, const std::vector<SwiGlu>& experts, int top_k);

}  // namespace subq::moe
