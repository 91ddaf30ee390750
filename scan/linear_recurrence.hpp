#pragma once
// The first-order linear recurrence over (batch, channels, length):
//   forward:  h[t] = a[t] * h[t-1] + b[t],  h[-1] = h0
//   reverse:  h[t] = a[t] * h[t+1] + b[t],  h[L] = h0
// Real (float32, float64) and complex (complex64, complex128) elements; bfloat16/float16 inputs
// are computed with float32 state and give float32 outputs. a, b and h0 may be strided views
// (e.g. a broadcast with expand()); h is returned contiguous.
#include <cstdint>

#include "../core/tensor.hpp"
#include "../core/thread_pool.hpp"

namespace subq::scan {

enum class Direction { Forward, Reverse };

struct LinearRecurrenceOptions {
  Direction direction = Direction::Forward;
  /// CPU threads; nullptr uses ThreadPool::global().
  ThreadPool* pool = nullptr;
  /// Length of the pieces the sequence is cut into for parallel scanning; 0 lets the
  /// implementation choose. Results do not depend on it beyond rounding.
  std::int64_t chunk_length = 0;
  /// Where to write h, when given: (batch, channels, length), contiguous, of the state dtype, on
  /// the inputs' device. Lets a caller reuse one buffer across calls. On the CPU it may be b
  /// itself (contiguous, of the state dtype): each b[t] is read before h[t] is written there.
  Tensor out;
};

struct LinearRecurrenceResult {
  Tensor h;            // (batch, channels, length): the state after every step
  Tensor final_state;  // (batch, channels): the state after the last step (h0 when length is 0)
};

/// a, b: (batch, channels, length) of one dtype, on one device; h0: (batch, channels) or
/// undefined for zeros. Runs on the inputs' device.
LinearRecurrenceResult linear_recurrence(const Tensor& a, const Tensor& b, const Tensor& h0 = {},
                                         const LinearRecurrenceOptions& options = {});

/// The plain sequential loop on the CPU, one step at a time: the specification the parallel
/// paths are tested against.
LinearRecurrenceResult linear_recurrence_sequential(const Tensor& a, const Tensor& b, const Tensor& h0 = {},
                                                    Direction direction = Direction::Forward);

}  // namespace subq::scan
