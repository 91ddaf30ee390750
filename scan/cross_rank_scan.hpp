#pragma once
// The scan operator across processes: a first-order linear recurrence h[t] = a[t] * h[t-1] + b[t]
// (element-wise over a state of any shape) whose sequence is cut into contiguous segments, one per
// rank of a communicator in rank order. Each rank reduces its segment to one element of the scan
// operator (scan_operator.hpp), the affine map h -> decay * h + state, where
//   decay = the product of the segment's a[t]   and   state = the segment's final h from h = 0,
// and gets back the state entering its segment: the composition of ranks 0 .. r-1's maps applied
// to zero (zeros on rank 0). With it each rank can finish its segment exactly as if the whole
// sequence had run on one process, in ceil(log2 P) + 1 message rounds instead of P - 1 in turn.
#include "../core/tensor.hpp"
#include "../dist/communicator.hpp"

namespace subq::scan {

/// decay and state: this rank's segment's map, of one shape and dtype (float32 or float64) on every
/// rank, on the CPU or CUDA -> the state entering this rank's segment, of that shape, dtype and
/// device. Composes in float64 whatever the dtype. Hillis-Steele over the ranks: in round k each
/// rank sends its composed map of the 2^k ranks ending at it to the rank 2^k later; a last round
/// shifts the inclusive states by one rank. A collective: every rank of comm calls it.
Tensor incoming_state(dist::Communicator& comm, const Tensor& decay, const Tensor& state);

}  // namespace subq::scan
