// The CUDA path of selective_scan: dtype and stride checks, output allocation, the launch.
#include "core/check.hpp"
#include "ssm/selective_scan_cuda.hpp"
#include "ssm/selective_scan_impl.hpp"

namespace subq::ssm::detail {

namespace {

constexpr const char* kOp = "selective_scan";

void check_dtype(const char* name, const Tensor& t, DType expected, const Device& device) {
  SUBQ_CHECK(!t.defined() || t.dtype() == expected, "{} on {}: {}: expected {}, found {} (convert it on the CPU first)",
             kOp, to_string(device), name, dtype_name(expected), dtype_name(t.dtype()));
}

// The kernel reads along length with unit stride; other layouts (a transposed projection) are
// copied first, as the reference does with .contiguous().
Tensor unit_time_stride(const Tensor& t) {
  return !t.defined() || t.size(-1) <= 1 || t.stride(-1) == 1 ? t : t.contiguous();
}

GroupedOperand operand(const Tensor& t, std::int64_t dim) {
  const GroupedLayout g = grouped_layout(t, dim);
  return {t.raw_data(), g.stride_batch, g.stride_group, g.stride_n, g.stride_t, g.channels_per_group};
}

}  // namespace

SelectiveScanResult selective_scan_cuda(const SelectiveScanShape& s, const Tensor& u_in, const Tensor& delta_in,
                                        const Tensor& A, const Tensor& B_in, const Tensor& C_in,
                                        const SelectiveScanOptions& options) {
  const Tensor u = unit_time_stride(u_in), delta = unit_time_stride(delta_in);
  const Tensor B = B_in.dim() > 2 ? unit_time_stride(B_in) : B_in, C = C_in.dim() > 2 ? unit_time_stride(C_in) : C_in;
  SelectiveScanOptions with_z = options;
  with_z.z = unit_time_stride(options.z);
  const SelectiveScanOptions& o = with_z;
  const Device device = u.device();
  const DType input = u.dtype();
  SUBQ_CHECK(input == DType::F32 || input == DType::F64 || input == DType::BF16,
             "{} on {}: u: expected float32, float64 or bfloat16, found {}", kOp, to_string(device), dtype_name(input));
  const DType weight = input == DType::F64 ? DType::F64 : DType::F32;
  const DType state = s.complex ? (weight == DType::F64 ? DType::C128 : DType::C64) : weight;
  for (const auto& [name, t] : {std::pair{"delta", &delta}, std::pair{"z", &o.z}}) check_dtype(name, *t, input, device);
  check_dtype("A", A, state, device);
  for (const auto& [name, t] : {std::pair{"B", &B}, std::pair{"C", &C}})
    check_dtype(name, *t, s.complex ? state : input, device);
  for (const auto& [name, t] : {std::pair{"D", &o.D}, std::pair{"delta_bias", &o.delta_bias}})
    check_dtype(name, *t, weight, device);
  check_dtype("initial_state", o.initial_state, state, device);

  SelectiveScanResult r{Tensor::empty({s.batch, s.dim, s.L}, input, device),
                        Tensor::empty({s.batch, s.dim, s.N}, state, device)};
  auto ptr = [](const Tensor& t) -> const void* { return t.defined() ? t.raw_data() : nullptr; };
  auto stride = [](const Tensor& t, int d) -> std::int64_t { return t.defined() ? t.stride(d) : 0; };
  const SelectiveScanParams params{input,
                                   s.complex,
                                   s.batch,
                                   s.dim,
                                   s.N,
                                   s.L,
                                   u.raw_data(),
                                   u.stride(0),
                                   u.stride(1),
                                   delta.raw_data(),
                                   delta.stride(0),
                                   delta.stride(1),
                                   ptr(o.z),
                                   stride(o.z, 0),
                                   stride(o.z, 1),
                                   A.raw_data(),
                                   A.stride(0),
                                   A.stride(1),
                                   operand(B, s.dim),
                                   operand(C, s.dim),
                                   ptr(o.D),
                                   stride(o.D, 0),
                                   ptr(o.delta_bias),
                                   stride(o.delta_bias, 0),
                                   o.delta_softplus,
                                   ptr(o.initial_state),
                                   stride(o.initial_state, 0),
                                   stride(o.initial_state, 1),
                                   stride(o.initial_state, 2),
                                   r.out.raw_data(),
                                   r.last_state.raw_data()};
  check_launch(kOp, device, launch_selective_scan_cuda(params));
  return r;
}

}  // namespace subq::ssm::detail
