// Conformance runner for linear_attn/* cases: q, k, v (B, T, H, K|V), the case's feature map,
// normaliser, scale and initial state (h0, z0) -> o, final_state, final_z.
#include "conformance/case.hpp"
#include "core/check.hpp"
#include "recurrent/linear_attention.hpp"

namespace subq::recurrent {

check::Outputs run_linear_attention_case(const check::Case& c, Device device) {
  const JsonConfig params = c.meta.child("params");
  const std::string map = params.get_string("fmap");
  SUBQ_CHECK(map == "elu1" || map == "identity", "{}: params.fmap '{}': expected elu1 or identity", c.name, map);
  LinearAttentionOptions options;
  options.feature_map = map == "elu1" ? FeatureMap::Elu1 : FeatureMap::Identity;
  options.scale = params.get_double("scale");
  options.normalize = params.get_bool("norm");
  options.initial_state = check::optional_input(c, "h0", device);
  if (options.normalize) options.initial_normalizer = check::optional_input(c, "z0", device);
  const LinearAttentionResult r = linear_attention(check::input(c, "q", device), check::input(c, "k", device),
                                                   check::input(c, "v", device), options);
  check::Outputs outputs{{"o", r.o}, {"final_state", r.final_state}};
  if (options.normalize) outputs.emplace_back("final_z", r.final_normalizer);
  return outputs;
}

}  // namespace subq::recurrent
