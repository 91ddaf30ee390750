#include "recurrent/retention.hpp"

#include <cmath>
#include <vector>

#include "core/check.hpp"
#include "core/dense.hpp"
#include "ssm/ssd.hpp"

namespace subq::recurrent {

double retention_log_decay(std::int64_t head) { return std::log(1.0 - std::exp2(-5.0 - double(head))); }

RetentionResult retention(const Tensor& q, const Tensor& k, const Tensor& v, const RetentionOptions& options) {
  constexpr const char* op = "retention";
  SUBQ_CHECK(q.defined() && q.dim() == 4, "{}: q: expected (batch, length, heads, d_k), found {}", op,
             q.defined() ? to_string(q.shape()) : "nothing");
  const std::int64_t B = q.size(0), L = q.size(1), H = q.size(2), dk = q.size(3);
  check_shape(op, "k", k, q.shape());
  SUBQ_CHECK(v.defined() && v.dim() == 4 && v.size(0) == B && v.size(1) == L && v.size(2) == H,
             "{}: v: expected ({}, {}, {}, d_v), found {}", op, B, L, H, v.defined() ? to_string(v.shape()) : "nothing");
  const Device device = q.device();
  // CUDA's SSD takes float32: bfloat16 inputs are widened there.
  auto input = [&](const Tensor& t) { return device.is_cuda() && t.dtype() == DType::BF16 ? t.to(DType::F32) : t; };
  const Tensor q_in = input(q);
  const DType dtype = q_in.dtype();
  if (device.is_cuda())
    SUBQ_CHECK(dtype == DType::F32, "{} on {}: q: expected float32 or bfloat16, found {}", op, to_string(device),
               dtype_name(q.dtype()));
  SUBQ_CHECK(dtype == DType::F32 || dtype == DType::F64, "{}: q: expected float32 or float64, found {}", op,
             dtype_name(q.dtype()));
  // The decays are one per head, broadcast over batch and time; q's scaling is rounded once from
  // float64 into q's dtype (at L = 128K a float64 copy of q would be 2 GiB).
  std::vector<double> head_decay(static_cast<std::size_t>(H));
  for (std::int64_t h = 0; h < H; ++h) head_decay[h] = retention_log_decay(h);
  const Tensor log_decay = Tensor::from_vector(head_decay, {1, 1, H}).to(dtype).to(device).expand({B, L, H});
  const Tensor scaled_q = scale(q_in, 1.0 / std::sqrt(double(dk)));
  ssm::SsdOptions ssd_options;
  ssd_options.chunk_length = options.chunk_length;
  ssd_options.initial_state = options.initial_state;
  // SSD's X, B, C are retention's v, k and (scaled) q; its state (P x N) is (d_v x d_k).
  const ssm::SsdResult r = ssm::ssd(input(v), log_decay, input(k), scaled_q, ssd_options);
  return {r.Y, r.final_state};
}

}  // namespace subq::recurrent
