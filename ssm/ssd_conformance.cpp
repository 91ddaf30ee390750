// Conformance runner for mamba2/ssd_* cases: X, A, B, C, initial_state -> Y, final_state, with
// the reference's block length as the chunk length.
#include "conformance/case.hpp"
#include "ssm/ssd.hpp"

namespace subq::ssm {

check::Outputs run_ssd_case(const check::Case& c, Device device) {
  auto in = [&](const char* name) { return c.io.get(name).to(device); };
  SsdOptions options;
  options.chunk_length = c.meta.get_int("block_len");
  options.initial_state = in("initial_state");
  const SsdResult r = ssd(in("X"), in("A"), in("B"), in("C"), options);
  return {{"Y", r.Y}, {"final_state", r.final_state}};
}

}  // namespace subq::ssm
