// Conformance runners for hippo/transition_<measure>_<N> (-> A (N, N), B (N)) and
// hippo/nplr_legs_<N> (-> w, P, B in the eigenbasis).
#include <algorithm>
#include <cmath>

#include "conformance/case.hpp"
#include "ssm/hippo.hpp"

namespace subq::ssm {

check::Outputs run_hippo_transition_case(const check::Case& c, Device) {
  // Initialisation-time matrices: computed on the CPU whatever the device.
  const HippoTransition t = hippo_transition(parse_hippo_measure(c.meta.get_string("measure")), c.meta.get_int("N"));
  return {{"A", t.A}, {"B", t.B}};
}

// Each eigenvector is unique only up to a phase, and upstream clips Im(B) to [-2, 2] in the phase
// its LAPACK call happened to pick. So: turn each of our eigenvectors to the phase of the
// reference's P (a choice of basis, not of values: |P|, |B| and P conj(B) are unchanged), then
// clip as upstream does. w needs no alignment.
check::Outputs run_hippo_nplr_case(const check::Case& c, Device) {
  const std::int64_t N = c.meta.get_int("N");
  const HippoNplr nplr = hippo_nplr(parse_hippo_measure(c.meta.get_string("measure")), N);
  const Tensor ref_re = c.io.get("P_real", DType::F64).contiguous(), ref_im = c.io.get("P_imag", DType::F64).contiguous();
  constexpr double kBClip = 2.0;  // s4's nplr default B_clip
  for (std::int64_t k = 0; k < N / 2; ++k) {
    complex128& p = nplr.P.data<complex128>()[k];
    complex128& b = nplr.B.data<complex128>()[k];
    const double turn = std::atan2(ref_im.data<double>()[k], ref_re.data<double>()[k]) - std::atan2(p.im, p.re);
    const complex128 phase{std::cos(turn), std::sin(turn)};
    p = p * phase, b = b * phase;
    b.im = std::clamp(b.im, -kBClip, kBClip);
  }
  return {{"w", nplr.w}, {"P", nplr.P}, {"B", nplr.B}};
}

}  // namespace subq::ssm
