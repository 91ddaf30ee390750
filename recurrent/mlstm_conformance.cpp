// Conformance runner for mlstm/* cases: q, k, v, the gates' pre-activations and (C0, n0, m0), with
// the case's forget gate and epsilon -> h, final_C, final_n, final_m.
#include "conformance/case.hpp"
#include "core/check.hpp"
#include "recurrent/mlstm.hpp"

namespace subq::recurrent {

check::Outputs run_mlstm_case(const check::Case& c, Device device) {
  const JsonConfig params = c.meta.child("params");
  const std::string gate = params.get_string("fg");
  SUBQ_CHECK(gate == "sigmoid" || gate == "exp", "{}: params.fg '{}': expected sigmoid or exp", c.name, gate);
  MlstmOptions options;
  options.forget_gate = gate == "exp" ? ForgetGate::Exponential : ForgetGate::Sigmoid;
  options.epsilon = params.get_double("eps");
  options.initial_C = check::optional_input(c, "C0", device);
  options.initial_n = check::optional_input(c, "n0", device);
  options.initial_m = check::optional_input(c, "m0", device);
  const auto in = [&](const char* name) { return check::input(c, name, device); };
  const MlstmResult r = mlstm(in("q"), in("k"), in("v"), in("igate_preact"), in("fgate_preact"), options);
  return {{"h", r.h}, {"final_C", r.final_C}, {"final_n", r.final_n}, {"final_m", r.final_m}};
}

}  // namespace subq::recurrent
