#include <catch2/catch.hpp>

#include <cmath>
#include <functional>
#include <random>

#include "core/device.hpp"
#include "ssm/selective_scan.hpp"
#include "tests/testing.hpp"

using namespace subq;
using namespace subq::ssm;
using subq::testing::max_rel_diff;
using subq::testing::random_tensor;

namespace {

enum class Layout { Shared, Grouped, TimeInvariant };

struct Problem {
  Tensor u, delta, A, B, C;
  SelectiveScanOptions options;
  std::int64_t groups;
  Layout layout;
};

Problem random_problem(std::int64_t batch, std::int64_t dim, std::int64_t N, std::int64_t L, Layout layout,
                       bool complex, bool extras, std::uint32_t seed) {
  std::mt19937 rng(seed);
  const DType real = DType::F64, state = complex ? DType::C128 : DType::F64;
  Problem p;
  p.layout = layout;
  p.groups = layout == Layout::Grouped ? 2 : 1;
  p.u = random_tensor({batch, dim, L}, real, rng, -1, 1);
  p.delta = random_tensor({batch, dim, L}, real, rng, extras ? -3 : 0.01, extras ? 1 : 0.2);
  // Negative real parts keep the state decaying whatever the length.
  p.A = random_tensor({dim, N}, state, rng, -2, -0.05);
  const Shape bc = layout == Layout::Shared    ? Shape{batch, N, L}
                   : layout == Layout::Grouped ? Shape{batch, p.groups, N, L}
                                               : Shape{dim, N};
  p.B = random_tensor(bc, state, rng, -1, 1);
  p.C = random_tensor(bc, state, rng, -1, 1);
  if (extras) {
    p.options.D = random_tensor({dim}, real, rng, -1, 1);
    p.options.z = random_tensor({batch, dim, L}, real, rng, -2, 2);
    p.options.delta_bias = random_tensor({dim}, real, rng, -1, 1);
    p.options.delta_softplus = true;
    p.options.initial_state = random_tensor({batch, dim, N}, state, rng, -1, 1);
  }
  return p;
}

complex128 at(const Tensor& t, std::int64_t i) {
  return is_complex(t.dtype()) ? t.data<complex128>()[i] : complex128(t.data<double>()[i]);
}

// The reference loop, straight from the definition, in float64 / complex128.
SelectiveScanResult reference(const Problem& p) {
  const SelectiveScanOptions& o = p.options;
  const std::int64_t batch = p.u.size(0), dim = p.u.size(1), L = p.u.size(2), N = p.A.size(1);
  const bool complex = is_complex(p.A.dtype());
  auto bc_index = [&](std::int64_t b, std::int64_t d, std::int64_t n, std::int64_t t) {
    if (p.layout == Layout::TimeInvariant) return d * N + n;
    const std::int64_t g = d / (dim / p.groups);
    return ((b * p.groups + g) * N + n) * L + t;
  };
  SelectiveScanResult r{Tensor::empty({batch, dim, L}, DType::F64), Tensor::empty({batch, dim, N}, DType::C128)};
  for (std::int64_t b = 0; b < batch; ++b)
    for (std::int64_t d = 0; d < dim; ++d) {
      std::vector<complex128> x(static_cast<std::size_t>(N));
      for (std::int64_t n = 0; n < N; ++n) x[n] = o.initial_state.defined() ? at(o.initial_state, (b * dim + d) * N + n) : 0.0;
      for (std::int64_t t = 0; t < L; ++t) {
        const std::int64_t i = (b * dim + d) * L + t;
        double dt = p.delta.data<double>()[i] + (o.delta_bias.defined() ? o.delta_bias.data<double>()[d] : 0.0);
        if (o.delta_softplus) dt = dt > 20 ? dt : std::log1p(std::exp(dt));
        double y = 0;
        for (std::int64_t n = 0; n < N; ++n) {
          const complex128 a = at(p.A, d * N + n);
          const complex128 decay{std::exp(dt * a.re) * std::cos(dt * a.im), std::exp(dt * a.re) * std::sin(dt * a.im)};
          x[n] = decay * x[n] + at(p.B, bc_index(b, d, n, t)) * complex128(dt * p.u.data<double>()[i]);
          y += (at(p.C, bc_index(b, d, n, t)) * x[n]).re;
        }
        double out = (complex ? 2 : 1) * y + (o.D.defined() ? o.D.data<double>()[d] * p.u.data<double>()[i] : 0.0);
        if (o.z.defined()) out *= o.z.data<double>()[i] / (1 + std::exp(-o.z.data<double>()[i]));
        r.out.data<double>()[i] = out;
      }
      for (std::int64_t n = 0; n < N; ++n) r.final_state.data<complex128>()[(b * dim + d) * N + n] = x[n];
    }
  return r;
}

SelectiveScanResult run(const Problem& p) { return selective_scan(p.u, p.delta, p.A, p.B, p.C, p.options); }

Problem as_float32(Problem p) {
  const bool complex = is_complex(p.A.dtype());
  const DType state = complex ? DType::C64 : DType::F32;
  for (Tensor* t : {&p.u, &p.delta, &p.options.D, &p.options.z, &p.options.delta_bias})
    if (t->defined()) *t = t->to(DType::F32);
  for (Tensor* t : {&p.A, &p.B, &p.C, &p.options.initial_state})
    if (t->defined()) *t = t->to(state);
  return p;
}

// One decoding step's inputs: state (batch, heads, dim, N), x and dt (batch, heads, dim), A
// (heads, dim, N), B and C (batch, groups, N), with D, z and dt_bias and the softplus.
struct StepProblem {
  Tensor state, x, dt, A, B, C;
  SelectiveScanOptions options;
};

StepProblem random_step(std::int64_t batch, std::int64_t heads, std::int64_t dim, std::int64_t N, std::int64_t groups,
                        DType dtype, std::uint32_t seed) {
  std::mt19937 rng(seed);
  auto r = [&](const Shape& s, double lo, double hi) { return random_tensor(s, dtype, rng, lo, hi); };
  StepProblem p{r({batch, heads, dim, N}, -1, 1), r({batch, heads, dim}, -1, 1), r({batch, heads, dim}, -2, 1),
                r({heads, dim, N}, -2, -0.1),     r({batch, groups, N}, -1, 1),   r({batch, groups, N}, -1, 1),
                {}};
  p.options.D = r({heads, dim}, -1, 1), p.options.z = r({batch, heads, dim}, -1, 1);
  p.options.delta_bias = r({heads, dim}, -1, 1), p.options.delta_softplus = true;
  return p;
}

}  // namespace

// 4 channels go one at a time; 64 (32 per group) in the CPU's blocks of 16 across channels. A
// single step takes a channel's states as lanes instead: N = 20 there is a full vector and a part.
TEST_CASE("selective scan: equals the reference loop", "[ssm][selective_scan]") {
  std::uint32_t seed = 1;
  for (const std::int64_t dim : {4, 64})
    for (const std::int64_t L : {1, 2, 7, 64, 257, 2049})
      for (const Layout layout : {Layout::Shared, Layout::Grouped, Layout::TimeInvariant})
        for (const bool complex : {false, true})
          for (const bool extras : {false, true}) {
            const std::int64_t N = L == 2049 ? 5 : L == 1 && dim == 64 ? 20 : 16;
            const Problem p = random_problem(2, dim, N, L, layout, complex, extras, seed++);
            INFO("dim " << dim << " L " << L << " layout " << int(layout) << " complex " << complex << " extras "
                        << extras);
            const SelectiveScanResult want = reference(p), got = run(p);
            CHECK(max_rel_diff(got.out, want.out) < 1e-12);
            CHECK(max_rel_diff(got.final_state, want.final_state) < 1e-12);
            const SelectiveScanResult single = run(as_float32(p));
            CHECK(single.out.dtype() == DType::F32);
            CHECK(max_rel_diff(single.out, want.out) < 1e-4);
            CHECK(max_rel_diff(single.final_state, want.final_state) < 1e-4);
          }
}

// Every other test's deltas lie well below softplus's threshold, where dt is log1p(exp(x)); above
// it dt is x itself, which the CPU selects as vectors. In float64 the two differ by about 1e-10
// relative, so a wrong choice on either side fails the 1e-12 bound.
TEST_CASE("selective scan: deltas above softplus's threshold of 20 are taken as they are", "[ssm][selective_scan]") {
  Problem p = random_problem(1, 64, 16, 100, Layout::Shared, false, true, 21);
  p.delta = p.delta.contiguous();
  for (std::int64_t i = 0; i < p.delta.numel(); ++i) p.delta.data<double>()[i] += 20;  // with the bias: 16 to 22
  const SelectiveScanResult want = reference(p), got = run(p);
  CHECK(max_rel_diff(got.out, want.out) < 1e-12);
  CHECK(max_rel_diff(got.final_state, want.final_state) < 1e-12);
}

TEST_CASE("selective scan: strided inputs read in place", "[ssm][selective_scan]") {
  // u and z as transposed (batch, length, dim) projections, as a Mamba layer hands them over, and
  // the state as a transposed (batch, N, dim); L = 1 is a decoding step's path, L = 1100 crosses
  // the CPU's spans of 1024 steps.
  const std::int64_t dim = GENERATE(6, 32), L = GENERATE(33, 1100, 1);
  const Problem p = random_problem(2, dim, 8, L, Layout::Shared, false, true, 7);
  Problem q = p;
  q.u = p.u.transpose(1, 2).contiguous().transpose(1, 2);
  q.options.z = p.options.z.transpose(1, 2).contiguous().transpose(1, 2);
  q.B = p.B.transpose(1, 2).contiguous().transpose(1, 2);
  q.options.initial_state = p.options.initial_state.transpose(1, 2).contiguous().transpose(1, 2);
  if (L > 1) REQUIRE_FALSE(q.u.is_contiguous());  // a length of 1 leaves nothing to transpose
  REQUIRE_FALSE(q.options.initial_state.is_contiguous());
  CHECK(max_rel_diff(run(q).out, run(p).out) == 0);
}

TEST_CASE("selective scan: splitting the sequence and carrying the state changes nothing", "[ssm][selective_scan]") {
  const std::int64_t dim = GENERATE(4, 32);
  for (const bool complex : {false, true}) {
    const Problem p = random_problem(1, dim, 4, 100, Layout::Grouped, complex, true, 11);
    const SelectiveScanResult whole = run(p);
    const std::int64_t k = 37;
    auto part = [&](std::int64_t from, std::int64_t to, const Tensor& h0) {
      Problem q = p;
      q.u = p.u.slice(2, from, to), q.delta = p.delta.slice(2, from, to), q.options.z = p.options.z.slice(2, from, to);
      q.B = p.B.slice(3, from, to), q.C = p.C.slice(3, from, to);
      q.options.initial_state = h0;
      return run(q);
    };
    const SelectiveScanResult first = part(0, k, p.options.initial_state), second = part(k, 100, first.final_state);
    CHECK(max_rel_diff(first.out, whole.out.slice(2, 0, k)) < 1e-13);
    CHECK(max_rel_diff(second.out, whole.out.slice(2, k, 100)) < 1e-13);
    CHECK(max_rel_diff(second.final_state, whole.final_state) < 1e-13);
  }
}

TEST_CASE("selective state update: one step of the scan, with heads and groups", "[ssm][selective_scan]") {
  const std::int64_t batch = 2, heads = 4, dim = 3, N = 6, groups = 2;
  const StepProblem p = random_step(batch, heads, dim, N, groups, DType::F64, 5);
  const Tensor &state = p.state, &x = p.x, &dt = p.dt, &A = p.A, &B = p.B, &C = p.C;
  const SelectiveScanOptions& o = p.options;
  const Tensor updated = state.clone();
  const Tensor out = selective_state_update(updated, x, dt, A, B, C, o);
  REQUIRE(out.shape() == Shape{batch, heads, dim});
  for (std::int64_t b = 0; b < batch; ++b)
    for (std::int64_t h = 0; h < heads; ++h)
      for (std::int64_t p = 0; p < dim; ++p) {
        const std::int64_t i = (b * heads + h) * dim + p, g = h / (heads / groups);
        const double step = std::log1p(std::exp(dt.data<double>()[i] + o.delta_bias.data<double>()[h * dim + p]));
        double y = 0;
        for (std::int64_t n = 0; n < N; ++n) {
          const double s = state.data<double>()[i * N + n] * std::exp(step * A.data<double>()[(h * dim + p) * N + n]) +
                           B.data<double>()[(b * groups + g) * N + n] * step * x.data<double>()[i];
          CHECK(updated.data<double>()[i * N + n] == Approx(s).epsilon(1e-12));
          y += s * C.data<double>()[(b * groups + g) * N + n];
        }
        const double zi = o.z.data<double>()[i];
        const double want = (y + o.D.data<double>()[h * dim + p] * x.data<double>()[i]) * zi / (1 + std::exp(-zi));
        CHECK(out.data<double>()[i] == Approx(want).epsilon(1e-12).margin(1e-14));
      }
}

TEST_CASE("selective scan: bad shapes name the tensor", "[ssm][selective_scan]") {
  const Problem p = random_problem(2, 4, 3, 10, Layout::Grouped, false, true, 3);
  Problem q = p;
  q.C = p.C.slice(3, 0, 9);
  CHECK_THROWS_WITH(run(q), Catch::Contains("C: expected shape [2, 2, 3, 10], found [2, 2, 3, 9]"));
  q = p;
  q.B = Tensor::zeros({2, 3, 3, 10}, DType::F64);
  CHECK_THROWS_WITH(run(q), Catch::Contains("3 groups do not divide 4 channels"));
  q = p;
  q.options.z = p.u.slice(2, 0, 5);
  CHECK_THROWS_WITH(run(q), Catch::Contains("z: expected shape [2, 4, 10]"));
  q = p;
  q.B = p.B.to(DType::C128);
  CHECK_THROWS_WITH(run(q), Catch::Contains("B and C are complex exactly when A is"));
  q = p;
  q.options.initial_state = Tensor::zeros({2, 4, 2}, DType::F64);
  CHECK_THROWS_WITH(run(q), Catch::Contains("initial_state: expected shape [2, 4, 3]"));
}

TEST_CASE("selective scan: the CUDA kernel equals the CPU path", "[ssm][selective_scan][cuda]") {
  if (!cuda_available()) {
    WARN("SKIPPED: " << cuda_status());
    return;
  }
  const Device gpu = Device::cuda();
  auto to_gpu = [&](Problem p) {
    for (Tensor* t : {&p.u, &p.delta, &p.A, &p.B, &p.C, &p.options.D, &p.options.z, &p.options.delta_bias,
                      &p.options.initial_state})
      if (t->defined()) *t = t->to(gpu);
    return p;
  };
  std::uint32_t seed = 100;
  // Lengths around the kernel's tile of 2048 float steps (1024 for float64 and complex64).
  for (const std::int64_t L : {1, 5, 1023, 1024, 1025, 2047, 2048, 2049, 5000})
    for (const Layout layout : {Layout::Shared, Layout::Grouped, Layout::TimeInvariant})
      for (const bool complex : {false, true}) {
        const Problem p = random_problem(2, 4, complex ? 6 : 16, L, layout, complex, seed % 2 == 0, seed);
        ++seed;
        INFO("L " << L << " layout " << int(layout) << " complex " << complex);
        for (const bool single : {false, true}) {
          const Problem q = single ? as_float32(p) : p;
          const SelectiveScanResult cpu = run(q), gpu_result = run(to_gpu(q));
          const double tolerance = single ? 1e-5 : 1e-12;
          CHECK(max_rel_diff(gpu_result.out, cpu.out) < tolerance);
          CHECK(max_rel_diff(gpu_result.final_state, cpu.final_state) < tolerance);
        }
      }
}

TEST_CASE("selective scan: bfloat16 inputs on CUDA are computed in float32", "[ssm][selective_scan][cuda]") {
  if (!cuda_available()) {
    WARN("SKIPPED: " << cuda_status());
    return;
  }
  Problem p = as_float32(random_problem(1, 8, 16, 3000, Layout::Grouped, false, true, 77));
  // Round the inputs to bfloat16 once, so that both paths see the same values.
  for (Tensor* t : {&p.u, &p.delta, &p.B, &p.C, &p.options.z}) *t = t->to(DType::BF16).to(DType::F32);
  const SelectiveScanResult cpu = run(p);
  Problem q = p;
  for (Tensor* t : {&q.u, &q.delta, &q.B, &q.C, &q.options.z}) *t = t->to(DType::BF16).to(Device::cuda());
  for (Tensor* t : {&q.A, &q.options.D, &q.options.delta_bias, &q.options.initial_state}) *t = t->to(Device::cuda());
  const SelectiveScanResult gpu = run(q);
  REQUIRE(gpu.out.dtype() == DType::BF16);
  CHECK(max_rel_diff(gpu.out, cpu.out) < 1e-2);  // the output is rounded to bfloat16
  CHECK(max_rel_diff(gpu.final_state, cpu.final_state) < 1e-5);
}

TEST_CASE("selective state update: CUDA equals the CPU", "[ssm][selective_scan][cuda]") {
  if (!cuda_available()) {
    WARN("SKIPPED: " << cuda_status());
    return;
  }
  const StepProblem p = random_step(2, 4, 8, 16, 2, DType::F32, 9);
  const Tensor &state = p.state, &x = p.x, &dt = p.dt, &A = p.A, &B = p.B, &C = p.C;
  const SelectiveScanOptions& o = p.options;
  const Tensor cpu_state = state.clone(), gpu_state = state.to(Device::cuda());
  const Tensor cpu_out = selective_state_update(cpu_state, x, dt, A, B, C, o);
  SelectiveScanOptions g = o;
  g.D = o.D.to(Device::cuda()), g.z = o.z.to(Device::cuda()), g.delta_bias = o.delta_bias.to(Device::cuda());
  const Tensor gpu_out = selective_state_update(gpu_state, x.to(Device::cuda()), dt.to(Device::cuda()), A.to(Device::cuda()),
                                                B.to(Device::cuda()), C.to(Device::cuda()), g);
  CHECK(max_rel_diff(gpu_out, cpu_out) < 1e-5);
  CHECK(max_rel_diff(gpu_state, cpu_state) < 1e-5);
}

TEST_CASE("selective scan: CUDA takes transposed projections as the CPU does", "[ssm][selective_scan][cuda]") {
  SUBQ_SKIP_WITHOUT_CUDA();
  const Problem p = as_float32(random_problem(2, 6, 8, 2100, Layout::Grouped, false, true, 8));
  // (batch, length, dim)-major buffers on the GPU, seen as (batch, dim, length).
  auto transposed_on_gpu = [](const Tensor& t) {
    return t.transpose(-1, -2).contiguous().to(Device::cuda()).transpose(-1, -2);
  };
  Problem q = p;
  for (Tensor* t : {&q.u, &q.delta, &q.B, &q.C, &q.options.z}) *t = transposed_on_gpu(*t);
  for (Tensor* t : {&q.A, &q.options.D, &q.options.delta_bias, &q.options.initial_state})
    if (t->defined()) *t = t->to(Device::cuda());
  REQUIRE_FALSE(q.u.is_contiguous());
  const SelectiveScanResult cpu = run(p), gpu = run(q);
  CHECK(max_rel_diff(gpu.out, cpu.out) < 1e-5);
  CHECK(max_rel_diff(gpu.final_state, cpu.final_state) < 1e-5);
}
