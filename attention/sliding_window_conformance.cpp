// Conformance runner for sliding_window_attention/* cases: q (B, T, HQ, D), k, v (B, T, HKV, D)
// with the case's window W and scale -> o.
#include "attention/attention.hpp"
#include "conformance/case.hpp"

namespace subq::attention {

check::Outputs run_sliding_window_attention_case(const check::Case& c, Device device) {
  const JsonConfig params = c.meta.child("params");
  return {{"o", causal_attention(check::input(c, "q", device), check::input(c, "k", device),
                                 check::input(c, "v", device), params.get_double("scale"), params.get_int("W"))}};
}

}  // namespace subq::attention
