// Conformance runner for rglru/* layer cases: the layer's weights (recurrentgemma's names) and x
// (B, T, D), segment_pos (B, T), h0 (B, D) -> y, last_h.
#include "conformance/case.hpp"
#include "recurrent/rglru.hpp"

namespace subq::recurrent {

check::Outputs run_rglru_case(const check::Case& c, Device device) {
  const JsonConfig params = c.meta.child("params");
  Checkpoint weights = Checkpoint::open_tensors(c.dir / "model.safetensors");
  weights.place_on(device);
  const RgLru layer = RgLru::load(weights, "", params.get_int("D"), params.get_int("H"));
  weights.finish();
  const RgLruResult r = rglru(layer, check::input(c, "x", device), check::input(c, "segment_pos", device),
                              check::optional_input(c, "h0", device));
  return {{"y", r.y}, {"last_h", r.last_h}};
}

}  // namespace subq::recurrent
