// Conformance runners for mamba/selective_scan_* (u, delta, A or A_real/A_imag, B, C and the
// optional D, z, delta_bias -> out, last_state, as the fixtures name the final state) and
// mamba/selective_state_update_* cases.
#include "conformance/case.hpp"
#include "core/check.hpp"
#include "ssm/selective_scan.hpp"

namespace subq::ssm {

namespace {

Tensor optional_input(const check::Case& c, const char* name, Device device) {
  return c.io.contains(name) ? c.io.get(name).to(device) : Tensor{};
}

// Upstream stores a complex B or C as (re, im) pairs interleaved along L.
Tensor interleaved_as_complex(const Tensor& t) {
  Shape pairs = t.shape();
  pairs.back() /= 2;
  pairs.push_back(2);
  return view_as_complex(t.contiguous().view(pairs));
}

Tensor complex_from_parts(const Tensor& re, const Tensor& im) {
  Tensor z = Tensor::empty(re.shape(), DType::C64);
  const Tensor r = re.contiguous(), i = im.contiguous();
  for (std::int64_t k = 0; k < z.numel(); ++k) z.data<complex64>()[k] = {r.data<float>()[k], i.data<float>()[k]};
  return z;
}

}  // namespace

check::Outputs run_selective_scan_case(const check::Case& c, Device device) {
  const bool complex = c.io.contains("A_real");
  const Tensor A = complex ? complex_from_parts(c.io.get("A_real"), c.io.get("A_imag")) : c.io.get("A");
  Tensor B = c.io.get("B"), C = c.io.get("C");
  if (complex) B = interleaved_as_complex(B), C = interleaved_as_complex(C);
  SelectiveScanOptions options;
  options.D = optional_input(c, "D", device);
  options.z = optional_input(c, "z", device);
  options.delta_bias = optional_input(c, "delta_bias", device);
  options.delta_softplus = c.meta.child("params").get_bool("sp");
  const SelectiveScanResult r = selective_scan(c.io.get("u").to(device), c.io.get("delta").to(device),
                                               A.to(device), B.to(device), C.to(device), options);
  return {{"out", r.out}, {"last_state", r.final_state}};
}

check::Outputs run_selective_state_update_case(const check::Case& c, Device device) {
  auto in = [&](const char* name) { return c.io.get(name).to(device); };
  const Tensor state = c.io.get("state_in").clone().to(device);
  SelectiveScanOptions options;
  options.D = in("D");
  options.z = in("z");
  options.delta_bias = in("dt_bias");
  options.delta_softplus = true;  // the fixtures are made with dt_softplus on
  const Tensor out = selective_state_update(state, in("x"), in("dt"), in("A"), in("B"), in("C"), options);
  return {{"out", out}, {"state_out", state}};
}

}  // namespace subq::ssm
