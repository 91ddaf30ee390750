#include "scan/cross_rank_scan.hpp"

#include "core/check.hpp"
#include "scan/scan_operator.hpp"

namespace subq::scan {

namespace {

// Tags of the scan's rounds: distinct from each other, so that a fast rank's message of round
// k + 1 is never taken for round k's.
constexpr int kTagBase = 16000;

void check_operands(const dist::Communicator& comm, const Tensor& decay, const Tensor& state) {
  SUBQ_CHECK(decay.defined() && state.defined(), "incoming_state: decay and state must both be given");
  SUBQ_CHECK(decay.shape() == state.shape(), "incoming_state: decay {} and state {} differ in shape",
             to_string(decay.shape()), to_string(state.shape()));
  SUBQ_CHECK(decay.dtype() == state.dtype() && (decay.dtype() == DType::F32 || decay.dtype() == DType::F64),
             "incoming_state: expected float32 or float64 decay and state of one dtype, found {} and {}",
             dtype_name(decay.dtype()), dtype_name(state.dtype()));
  SUBQ_CHECK(comm.size() <= 1 << 12, "incoming_state: at most 4096 ranks, found {}", comm.size());
}

// The ranks' shapes must agree, or the maps do not compose: said on every rank, not read past.
void check_received(const Tensor& got, const Tensor& mine, int from, int rank) {
  SUBQ_CHECK(got.defined() && got.shape() == mine.shape(),
             "incoming_state: rank {} sent a state of shape {}, rank {} holds {}", from,
             got.defined() ? to_string(got.shape()) : "none", rank, to_string(mine.shape()));
}

}  // namespace

Tensor incoming_state(dist::Communicator& comm, const Tensor& decay, const Tensor& state) {
  check_operands(comm, decay, state);
  const int r = comm.rank(), P = comm.size();
  Tensor a = decay.to(Device::cpu()).to(DType::F64).contiguous().clone();
  Tensor b = state.to(Device::cpu()).to(DType::F64).contiguous().clone();
  const std::int64_t n = a.numel();
  int round = 0;
  for (int d = 1; d < P; d *= 2, ++round) {
    if (r + d < P) comm.send(std::vector<Tensor>{a, b}, r + d, kTagBase + round);
    if (r - d < 0) continue;
    const std::vector<Tensor> earlier = comm.receive(r - d, kTagBase + round);
    SUBQ_CHECK(earlier.size() == 2, "incoming_state: rank {} sent {} tensors, expected 2", r - d, earlier.size());
    check_received(earlier[0], a, r - d, r), check_received(earlier[1], b, r - d, r);
    const double *ea = earlier[0].data<double>(), *eb = earlier[1].data<double>();
    double *la = a.data<double>(), *lb = b.data<double>();
    for (std::int64_t i = 0; i < n; ++i) {
      const Affine<double> m = compose(Affine<double>{ea[i], eb[i]}, Affine<double>{la[i], lb[i]});
      la[i] = m.a, lb[i] = m.b;
    }
  }
  // b is now the state after ranks 0 .. r; rank r + 1 starts from it.
  if (r + 1 < P) comm.send(std::vector<Tensor>{b}, r + 1, kTagBase + round);
  Tensor incoming = Tensor::zeros(decay.shape(), DType::F64);
  if (r > 0) {
    const std::vector<Tensor> before = comm.receive(r - 1, kTagBase + round);
    SUBQ_CHECK(before.size() == 1, "incoming_state: rank {} sent {} tensors, expected 1", r - 1, before.size());
    check_received(before[0], incoming, r - 1, r);
    incoming = before[0];
  }
  return incoming.to(decay.dtype()).to(decay.device());
}

}  // namespace subq::scan
