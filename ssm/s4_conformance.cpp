// Conformance runner for s4/block_* cases: the block's weights and x (B, H, L) -> y (B, H, L)
// and the SSM convolution kernel (C, H, L).
#include "conformance/case.hpp"
#include "ssm/s4.hpp"

namespace subq::ssm {

check::Outputs run_s4_block_case(const check::Case& c, Device device) {
  const JsonConfig params = c.meta.child("params");
  S4Block::Options options;
  options.mode = params.get_string("mode") == "s4" ? S4Mode::Dplr : S4Mode::Diag;
  options.disc = parse_discretization(params.get_string("disc"));
  options.l_max = params.get_int("L");
  Checkpoint weights = Checkpoint::open_tensors(c.dir / "model.safetensors");
  weights.place_on(device);
  const S4Block block = S4Block::load(weights, "", options);
  weights.finish();
  const Tensor x = c.io.get("x").to(device);
  return {{"y", block.forward(x)}, {"kernel", s4_kernel(block.params(), x.size(2), device)}};
}

}  // namespace subq::ssm
