// Conformance runner for hyena/operator_* cases: the operator's weights and x (B, L, D) -> y.
#include "conformance/case.hpp"
#include "conv/hyena.hpp"

namespace subq::conv {

check::Outputs run_hyena_operator_case(const check::Case& c, Device device) {
  const JsonConfig params = c.meta.child("params");
  Checkpoint weights = Checkpoint::open_tensors(c.dir / "model.safetensors");
  weights.place_on(device);
  const HyenaOperator op = HyenaOperator::load(weights, "", {params.get_int("order"), params.get_int("l_max")});
  weights.finish();
  return {{"y", op.forward(c.io.get("x").to(device))}};
}

}  // namespace subq::conv
