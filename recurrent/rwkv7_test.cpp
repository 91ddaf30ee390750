#include <catch2/catch.hpp>

#include <cmath>
#include <random>

#include "recurrent/wkv7.hpp"
#include "tests/testing.hpp"

using namespace subq;
using namespace subq::recurrent;
using subq::testing::check_cuda_result;
using subq::testing::max_rel_diff;
using subq::testing::non_finite_count;
using subq::testing::random_tensor;

namespace {

// The rule as its definition reads, in float64: S = S diag(exp(w)) + (S a) b^T + v k^T, o = S r.
Wkv7Result delta_rule_by_definition(const Tensor& r, const Tensor& w, const Tensor& k, const Tensor& v, const Tensor& a,
                                    const Tensor& b, const Tensor& h0) {
  const std::int64_t B = r.size(0), L = r.size(1), H = r.size(2), dk = r.size(3), dv = v.size(3);
  Wkv7Result res{Tensor::zeros({B, L, H, dv}, DType::F64), h0.to(DType::F64).contiguous().clone()};
  auto at = [](const Tensor& t, std::int64_t i) { return t.data<double>()[i]; };
  for (std::int64_t bi = 0; bi < B; ++bi)
    for (std::int64_t h = 0; h < H; ++h) {
      double* S = res.final_state.data<double>() + (bi * H + h) * dv * dk;
      for (std::int64_t t = 0; t < L; ++t) {
        const std::int64_t kr = ((bi * L + t) * H + h) * dk, vr = ((bi * L + t) * H + h) * dv;
        for (std::int64_t i = 0; i < dv; ++i) {
          double sa = 0;
          for (std::int64_t m = 0; m < dk; ++m) sa += S[i * dk + m] * at(a, kr + m);
          double o = 0;
          for (std::int64_t j = 0; j < dk; ++j) {
            double& s = S[i * dk + j];
            s = s * std::exp(at(w, kr + j)) + sa * at(b, kr + j) + at(v, vr + i) * at(k, kr + j);
            o += s * at(r, kr + j);
          }
          res.o.data<double>()[vr + i] = o;
        }
      }
    }
  return res;
}

}  // namespace

TEST_CASE("wkv7: equals the generalised delta rule step by step", "[recurrent][rwkv7]") {
  // Short calls step the state in place; from 16 steps it goes transposed through spans of steps,
  // padded to whole lanes (d_v 4 and 20) and rows (d_k 3), in groups of at most 16 heads (40 heads).
  struct Case {
    std::int64_t B, L, H, dk, dv;
  };
  std::mt19937 rng(1);
  for (const Case c : {Case{2, 9, 2, 3, 4}, Case{2, 40, 2, 3, 4}, Case{1, 37, 1, 64, 20}, Case{1, 20, 40, 3, 4}})
    for (const DType dtype : {DType::F64, DType::F32})
      for (const bool chunked : {false, true}) {
        INFO("L " << c.L << " heads " << c.H << " d_k " << c.dk << " d_v " << c.dv << " " << dtype_name(dtype)
                  << (chunked ? " chunked" : " stepped"));
        auto rt = [&](const Shape& s, double lo, double hi) { return random_tensor(s, DType::F64, rng, lo, hi); };
        const Shape keys{c.B, c.L, c.H, c.dk};
        // Small a and b keep the transition a contraction at d_k 64.
        const Tensor r = rt(keys, -1, 1), w = rt(keys, -0.6, 0), k = rt(keys, -1, 1),
                     v = rt({c.B, c.L, c.H, c.dv}, -1, 1), a = rt(keys, -0.2, 0.2), b = rt(keys, -0.2, 0.2),
                     h0 = rt({c.B, c.H, c.dv, c.dk}, -1, 1);
        auto in = [&](const Tensor& t) { return t.to(dtype); };
        const Wkv7Result want = delta_rule_by_definition(r, w, k, v, a, b, h0);
        const Wkv7Result got = chunked ? wkv7(in(r), in(w), in(k), in(v), in(a), in(b), {in(h0), 4})
                                       : wkv7_recurrent(in(r), in(w), in(k), in(v), in(a), in(b), in(h0));
        const double tolerance = dtype == DType::F64 ? 1e-12 : 1e-5;
        CHECK(max_rel_diff(got.o.to(DType::F64), want.o) < tolerance);
        CHECK(max_rel_diff(got.final_state.to(DType::F64), want.final_state) < tolerance);
      }
}

TEST_CASE("wkv7: splitting the sequence and carrying the state changes nothing", "[recurrent][rwkv7]") {
  std::mt19937 rng(2);
  auto rt = [&](const Shape& s, double lo, double hi) { return random_tensor(s, DType::F64, rng, lo, hi); };
  const Shape ks{1, 20, 2, 4};
  const Tensor r = rt(ks, -1, 1), w = rt(ks, -0.6, 0), k = rt(ks, -1, 1), v = rt({1, 20, 2, 3}, -1, 1), a = rt(ks, -1, 1),
               b = rt(ks, -1, 1);
  const Wkv7Result whole = wkv7(r, w, k, v, a, b);
  auto part = [&](std::int64_t from, std::int64_t to, const Tensor& h0) {
    return wkv7(r.slice(1, from, to), w.slice(1, from, to), k.slice(1, from, to), v.slice(1, from, to),
                a.slice(1, from, to), b.slice(1, from, to), {h0});
  };
  const Wkv7Result first = part(0, 7, {}), second = part(7, 20, first.final_state);
  CHECK(max_rel_diff(second.o, whole.o.slice(1, 7, 20)) < 1e-13);
  CHECK(max_rel_diff(second.final_state, whole.final_state) < 1e-13);
}

namespace {

// a = -kk and b = kk * gate, kk unit-norm per head and the gate in (0, 1), as RWKV-7 drives the
// rule: the transition stays a contraction whatever the keys.
struct DeltaRule {
  Tensor r, w, k, v, a, b;
};

DeltaRule rwkv7_inputs(std::int64_t L, std::int64_t H, std::int64_t d, DType dtype, double key_bound, std::mt19937& rng,
                       double strongest_log_decay = -0.6065) {
  const Shape s{1, L, H, d};
  DeltaRule p{random_tensor(s, DType::F64, rng, -1, 1), random_tensor(s, DType::F64, rng, strongest_log_decay, -0.3),
              random_tensor(s, DType::F64, rng, -key_bound, key_bound), random_tensor(s, DType::F64, rng, -1, 1),
              Tensor::empty(s, DType::F64), Tensor::empty(s, DType::F64)};
  const Tensor kk = random_tensor(s, DType::F64, rng, -1, 1), gate = random_tensor(s, DType::F64, rng, 0, 1);
  for (std::int64_t row = 0; row < L * H; ++row) {
    const double* x = kk.data<double>() + row * d;
    double norm = 0;
    for (std::int64_t j = 0; j < d; ++j) norm += x[j] * x[j];
    for (std::int64_t j = 0; j < d; ++j) {
      p.a.data<double>()[row * d + j] = -x[j] / std::sqrt(norm);
      p.b.data<double>()[row * d + j] = x[j] / std::sqrt(norm) * gate.data<double>()[row * d + j];
    }
  }
  for (Tensor* t : {&p.r, &p.w, &p.k, &p.v, &p.a, &p.b}) *t = t->to(dtype);
  return p;
}

}  // namespace

TEST_CASE("wkv7: the chunked form equals the recurrent form", "[recurrent][rwkv7]") {
  std::mt19937 rng(4);
  for (const std::int64_t L : {1, 2, 15, 64, 130})
    for (const std::int64_t chunk : {1, 7, 16, 64, 500}) {
      INFO("L " << L << " chunk " << chunk);
      const DeltaRule p = rwkv7_inputs(L, 3, 4, DType::F64, 3, rng);
      const Tensor h0 = random_tensor({1, 3, 4, 4}, DType::F64, rng, -1, 1);
      const Wkv7Result want = wkv7_recurrent(p.r, p.w, p.k, p.v, p.a, p.b, h0);
      const Wkv7Result got = wkv7(p.r, p.w, p.k, p.v, p.a, p.b, {h0, chunk});
      CHECK(max_rel_diff(got.o, want.o) < 1e-12);
      CHECK(max_rel_diff(got.final_state, want.final_state) < 1e-12);
    }
}

TEST_CASE("wkv7: chunks whose decay underflows equal the recurrent form", "[recurrent][rwkv7]") {
  // Log-decays down to -40 over 64-step chunks: far below what a ratio of running products survives.
  std::mt19937 rng(6);
  for (const DType dtype : {DType::F64, DType::F32}) {
    const DeltaRule p = rwkv7_inputs(150, 2, 4, dtype, 3, rng, -40);
    const Wkv7Result want = wkv7_recurrent(p.r, p.w, p.k, p.v, p.a, p.b);
    const Wkv7Result got = wkv7(p.r, p.w, p.k, p.v, p.a, p.b, {{}, 64});
    CHECK(max_rel_diff(got.o, want.o) < (dtype == DType::F64 ? 1e-12 : 1e-5));
  }
}

TEST_CASE("wkv7: float32 stays close to float64 in both forms", "[recurrent][rwkv7]") {
  std::mt19937 rng(5);
  const DeltaRule p = rwkv7_inputs(300, 2, 16, DType::F64, 1, rng);
  const Wkv7Result want = wkv7_recurrent(p.r, p.w, p.k, p.v, p.a, p.b);
  auto f32 = [](const Tensor& t) { return t.to(DType::F32); };
  const Wkv7Result chunked = wkv7(f32(p.r), f32(p.w), f32(p.k), f32(p.v), f32(p.a), f32(p.b), {{}, 16});
  const Wkv7Result stepped = wkv7_recurrent(f32(p.r), f32(p.w), f32(p.k), f32(p.v), f32(p.a), f32(p.b));
  CHECK(max_rel_diff(chunked.o.to(DType::F64), want.o) < 1e-4);
  CHECK(max_rel_diff(stepped.o.to(DType::F64), want.o) < 1e-4);
}

TEST_CASE("wkv7: no overflow at L = 100K with strong decays and large keys", "[recurrent][rwkv7]") {
  std::mt19937 rng(3);
  const DeltaRule p = rwkv7_inputs(100000, 1, 8, DType::F32, 100, rng);
  for (const bool chunked : {false, true}) {
    INFO((chunked ? "chunked" : "recurrent"));
    const Wkv7Result res =
        chunked ? wkv7(p.r, p.w, p.k, p.v, p.a, p.b, {{}, 16}) : wkv7_recurrent(p.r, p.w, p.k, p.v, p.a, p.b);
    CHECK(non_finite_count(res.o) == 0);
  }
}

TEST_CASE("wkv7: CUDA equals the CPU across head sizes and dtypes", "[recurrent][rwkv7][cuda]") {
  SUBQ_SKIP_WITHOUT_CUDA();
  std::mt19937 rng(7);
  auto gpu = [](const Tensor& t) { return t.to(Device::cuda()); };
  // d_k across the kernel's per-thread sizes (32, 64, 128, 256); d_v = d_k, as RWKV-7 has it.
  for (const std::int64_t d : {4, 64, 100, 256})
    for (const DType dtype : {DType::F64, DType::F32, DType::BF16})
      for (const std::int64_t L : {1, 15, 130}) {
        INFO("d " << d << " " << dtype_name(dtype) << " L " << L);
        const DeltaRule p = rwkv7_inputs(L, 3, d, dtype, 3, rng);
        const Tensor h0 = random_tensor({1, 3, d, d}, DType::F64, rng, -1, 1);
        auto f64 = [](const Tensor& t) { return t.to(DType::F64); };
        const Wkv7Result want = wkv7_recurrent(f64(p.r), f64(p.w), f64(p.k), f64(p.v), f64(p.a), f64(p.b), h0);
        const Wkv7Result got = wkv7(gpu(p.r), gpu(p.w), gpu(p.k), gpu(p.v), gpu(p.a), gpu(p.b), {gpu(h0)});
        check_cuda_result(got.o, want.o, got.final_state, want.final_state, dtype, d);
      }
}

TEST_CASE("wkv7: no overflow on CUDA at L = 100K with strong decays and large keys", "[recurrent][rwkv7][cuda]") {
  SUBQ_SKIP_WITHOUT_CUDA();
  std::mt19937 rng(8);
  const DeltaRule p = rwkv7_inputs(100000, 1, 8, DType::F32, 100, rng);
  auto gpu = [](const Tensor& t) { return t.to(Device::cuda()); };
  const Wkv7Result got = wkv7(gpu(p.r), gpu(p.w), gpu(p.k), gpu(p.v), gpu(p.a), gpu(p.b));
  CHECK(max_rel_diff(got.o, wkv7_recurrent(p.r, p.w, p.k, p.v, p.a, p.b).o) < 1e-3);
}

TEST_CASE("wkv7: CUDA operands on another device or of another dtype are named", "[recurrent][rwkv7][cuda]") {
  SUBQ_SKIP_WITHOUT_CUDA();
  std::mt19937 rng(9);
  const DeltaRule p = rwkv7_inputs(4, 1, 4, DType::F32, 1, rng);
  auto gpu = [](const Tensor& t) { return t.to(Device::cuda()); };
  CHECK_THROWS_WITH(wkv7(gpu(p.r), gpu(p.w), gpu(p.k), gpu(p.v), p.a, gpu(p.b)), Catch::Contains("wkv7: a is on cpu, the input on cuda:0"));
  CHECK_THROWS_WITH(wkv7(gpu(p.r), gpu(p.w), gpu(p.k), gpu(p.v), gpu(p.a), gpu(p.b).to(DType::F64)),
                    Catch::Contains("wkv7 on cuda:0: b: expected float32, found float64"));
  CHECK_THROWS_WITH(
      wkv7(gpu(p.r), gpu(p.w), gpu(p.k), gpu(p.v), gpu(p.a), gpu(p.b), {Tensor::zeros({1, 1, 4, 4}, DType::F32)}),
      Catch::Contains("wkv7: initial_state is on cpu, the input on cuda:0"));
}
