#include <catch2/catch.hpp>

#include <cmath>
#include <random>

#include "recurrent/wkv7.hpp"
#include "tests/testing.hpp"

using namespace subq;
using namespace subq::recurrent;
using subq::testing::max_rel_diff;
using subq::testing::random_tensor;

TEST_CASE("wkv7: equals the generalised delta rule step by step", "[recurrent][rwkv7]") {
  std::mt19937 rng(1);
  const std::int64_t B = 2, L = 9, H = 2, dk = 3, dv = 4;
  auto rt = [&](const Shape& s, double lo, double hi) { return random_tensor(s, DType::F64, rng, lo, hi); };
  const Tensor r = rt({B, L, H, dk}, -1, 1), w = rt({B, L, H, dk}, -0.6, 0), k = rt({B, L, H, dk}, -1, 1),
               v = rt({B, L, H, dv}, -1, 1), a = rt({B, L, H, dk}, -1, 1), b = rt({B, L, H, dk}, -1, 1),
               h0 = rt({B, H, dv, dk}, -1, 1);
  const Wkv7Result got = wkv7(r, w, k, v, a, b, h0);
  auto at = [](const Tensor& t, std::int64_t i) { return t.data<double>()[i]; };
  for (std::int64_t bi = 0; bi < B; ++bi)
    for (std::int64_t h = 0; h < H; ++h) {
      std::vector<double> S(dv * dk);
      for (std::int64_t e = 0; e < dv * dk; ++e) S[e] = at(h0, (bi * H + h) * dv * dk + e);
      for (std::int64_t t = 0; t < L; ++t) {
        const std::int64_t kr = ((bi * L + t) * H + h) * dk, vr = ((bi * L + t) * H + h) * dv;
        std::vector<double> next(dv * dk);
        for (std::int64_t i = 0; i < dv; ++i)
          for (std::int64_t j = 0; j < dk; ++j) {
            double sa = 0;
            for (std::int64_t m = 0; m < dk; ++m) sa += S[i * dk + m] * at(a, kr + m);
            next[i * dk + j] = S[i * dk + j] * std::exp(at(w, kr + j)) + sa * at(b, kr + j) + at(v, vr + i) * at(k, kr + j);
          }
        S = next;
        for (std::int64_t i = 0; i < dv; ++i) {
          double o = 0;
          for (std::int64_t j = 0; j < dk; ++j) o += S[i * dk + j] * at(r, kr + j);
          CHECK(at(got.o, vr + i) == Approx(o).epsilon(1e-12).margin(1e-14));
        }
      }
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
                a.slice(1, from, to), b.slice(1, from, to), h0);
  };
  const Wkv7Result first = part(0, 7, {}), second = part(7, 20, first.final_state);
  CHECK(max_rel_diff(second.o, whole.o.slice(1, 7, 20)) < 1e-13);
  CHECK(max_rel_diff(second.final_state, whole.final_state) < 1e-13);
}

TEST_CASE("wkv7: no overflow at L = 100K with strong decays and large keys", "[recurrent][rwkv7]") {
  // As RWKV-7 drives it: a = -kk, b = kk * gate with kk unit-norm per head and the gate in (0, 1),
  // which keeps the transition a contraction whatever the keys.
  std::mt19937 rng(3);
  const std::int64_t L = 100000, H = 1, d = 8;
  const Shape s{1, L, H, d};
  const Tensor r = random_tensor(s, DType::F32, rng, -1, 1), w = random_tensor(s, DType::F32, rng, -0.6065, -0.3),
               k = random_tensor(s, DType::F32, rng, -100, 100), v = random_tensor(s, DType::F32, rng, -1, 1),
               gate = random_tensor(s, DType::F32, rng, 0, 1);
  Tensor kk = random_tensor(s, DType::F32, rng, -1, 1), a = Tensor::empty(s, DType::F32), b = Tensor::empty(s, DType::F32);
  for (std::int64_t row = 0; row < L * H; ++row) {
    float norm = 0;
    for (std::int64_t j = 0; j < d; ++j) norm += kk.data<float>()[row * d + j] * kk.data<float>()[row * d + j];
    for (std::int64_t j = 0; j < d; ++j) {
      const float unit = kk.data<float>()[row * d + j] / std::sqrt(norm);
      a.data<float>()[row * d + j] = -unit;
      b.data<float>()[row * d + j] = unit * gate.data<float>()[row * d + j];
    }
  }
  const Wkv7Result res = wkv7(r, w, k, v, a, b);
  int bad = 0;
  for (std::int64_t i = 0; i < res.o.numel(); ++i) bad += !std::isfinite(res.o.data<float>()[i]);
  CHECK(bad == 0);
}
