#include <catch2/catch.hpp>

#include <cmath>
#include <complex>
#include <random>

#include "conv/fft_conv.hpp"
#include "core/config.hpp"
#include "ssm/hippo.hpp"
#include "ssm/s4.hpp"
#include "tests/source_dir.hpp"
#include "tests/testing.hpp"

using namespace subq;
using namespace subq::ssm;
using subq::testing::max_rel_diff;
using subq::testing::random_tensor;
using cd = std::complex<double>;

namespace {

cd at(const Tensor& t, std::int64_t i) { return {t.data<complex128>()[i].re, t.data<complex128>()[i].im}; }

S4Block load_fixture(int index, std::int64_t* L, Device device = Device::cpu()) {
  const auto dir = source_dir() / ("tests/conformance/s4/block_" + std::to_string(index));
  const JsonConfig params = JsonConfig::load(dir / "meta.json").child("params");
  *L = params.get_int("L");
  S4Block::Options options;
  options.mode = params.get_string("mode") == "s4" ? S4Mode::Dplr : S4Mode::Diag;
  options.disc = parse_discretization(params.get_string("disc"));
  options.l_max = *L;
  Checkpoint weights = Checkpoint::open_tensors(dir / "model.safetensors");
  weights.place_on(device);
  S4Block block = S4Block::load(weights, "", options);
  weights.finish();
  return block;
}

}  // namespace

TEST_CASE("s4d: the recurrent mode through the scan core equals the convolution mode", "[ssm][s4]") {
  for (const int index : {1, 2}) {  // diag-lin with ZOH, diag-inv with bilinear
    std::int64_t L;
    const S4Block block = load_fixture(index, &L);
    std::mt19937 rng(index);
    for (const std::int64_t length : {std::int64_t(1), std::int64_t(37), L}) {
      const Tensor x = random_tensor({2, block.H(), length}, DType::F64, rng, -1, 1);
      INFO("block " << index << " length " << length);
      CHECK(max_rel_diff(block.forward_recurrent(x), block.forward(x)) < 1e-10);
    }
  }
}

TEST_CASE("s4: the DPLR kernel equals C dA^l dB of the dense bilinear system", "[ssm][s4]") {
  // The C~ / Cauchy / Woodbury / irfft path against the definition, over the conjugate-expanded
  // states, with C as stored in the file (before the C~ correction).
  std::int64_t L;
  const S4Block block = load_fixture(0, &L);
  const Tensor stored_C = view_as_complex(
      SafetensorsFile::open(source_dir() / "tests/conformance/s4/block_0/model.safetensors").get("layer.kernel.C", DType::F64));
  const S4Params& p = block.params();
  const std::int64_t N = p.A.size(1), h = 3, length = 40;
  const Tensor K = s4_kernel(p, L);
  // Dense bilinear dA, dB for head h.
  const std::int64_t M = 2 * N;
  std::vector<cd> A(M * M, 0.0), pe(M), qe(M), b(M), c(M);
  for (std::int64_t n = 0; n < N; ++n) {
    const cd w = at(p.A, h * N + n), pn = at(p.P, h * N + n);
    A[n * M + n] = w, A[(N + n) * M + N + n] = std::conj(w);
    pe[n] = pn, pe[N + n] = std::conj(pn), qe[n] = std::conj(pn), qe[N + n] = pn;
    b[n] = at(p.B, h * N + n), b[N + n] = std::conj(b[n]);
  }
  for (std::int64_t i = 0; i < M; ++i)
    for (std::int64_t j = 0; j < M; ++j) A[i * M + j] -= pe[i] * qe[j];
  // One bilinear step: (I - dt/2 A) s_next = (I + dt/2 A) s + dt B u, by Gaussian elimination.
  const double dt = p.dt.data<double>()[h];
  auto solve = [&](std::vector<cd> rhs) {
    std::vector<cd> m(M * M);
    for (std::int64_t i = 0; i < M; ++i)
      for (std::int64_t j = 0; j < M; ++j) m[i * M + j] = (i == j ? 1.0 : 0.0) - dt / 2 * A[i * M + j];
    for (std::int64_t k = 0; k < M; ++k) {
      std::int64_t piv = k;
      for (std::int64_t i = k + 1; i < M; ++i)
        if (std::abs(m[i * M + k]) > std::abs(m[piv * M + k])) piv = i;
      for (std::int64_t j = 0; j < M; ++j) std::swap(m[k * M + j], m[piv * M + j]);
      std::swap(rhs[k], rhs[piv]);
      for (std::int64_t i = k + 1; i < M; ++i) {
        const cd f = m[i * M + k] / m[k * M + k];
        for (std::int64_t j = k; j < M; ++j) m[i * M + j] -= f * m[k * M + j];
        rhs[i] -= f * rhs[k];
      }
    }
    for (std::int64_t i = M - 1; i >= 0; --i) {
      for (std::int64_t j = i + 1; j < M; ++j) rhs[i] -= m[i * M + j] * rhs[j];
      rhs[i] /= m[i * M + i];
    }
    return rhs;
  };
  auto step = [&](const std::vector<cd>& s, double u) {
    std::vector<cd> rhs(M);
    for (std::int64_t i = 0; i < M; ++i) {
      rhs[i] = s[i] + dt * b[i] * u;
      for (std::int64_t j = 0; j < M; ++j) rhs[i] += dt / 2 * A[i * M + j] * s[j];
    }
    return solve(rhs);
  };
  for (std::int64_t n = 0; n < N; ++n) c[n] = at(stored_C, h * N + n), c[N + n] = std::conj(c[n]);
  std::vector<cd> s = step(std::vector<cd>(M, 0.0), 1.0);  // the response to an impulse: dA^l dB
  for (std::int64_t l = 0; l < length; ++l, s = step(s, 0.0)) {
    cd k = 0;
    for (std::int64_t i = 0; i < M; ++i) k += c[i] * s[i];
    CHECK(K.data<double>()[h * L + l] == Approx(k.real()).margin(1e-9));
  }
}

TEST_CASE("hippo nplr: V diag(w) V^* reconstructs the normal part of LegS", "[ssm][hippo]") {
  const std::int64_t N = 16, half = N / 2;
  const HippoNplr nplr = hippo_nplr(HippoMeasure::LegS, N);
  const HippoTransition t = hippo_transition(HippoMeasure::LegS, N);
  for (std::int64_t i = 0; i < N; ++i)
    for (std::int64_t j = 0; j < N; ++j) {
      cd sum = 0;  // keeping one of each conjugate pair: the normal part is 2 Re(V diag(w) V^*)
      for (std::int64_t k = 0; k < half; ++k) sum += at(nplr.V, i * half + k) * at(nplr.w, k) * std::conj(at(nplr.V, j * half + k));
      const double normal = t.A.data<double>()[i * N + j] + std::sqrt((i + 0.5) * (j + 0.5));
      CHECK(2 * sum.real() == Approx(normal).margin(1e-9));
    }
  CHECK_THROWS_WITH(hippo_nplr(HippoMeasure::LegT, N), Catch::Contains("only legs"));
  CHECK_THROWS_WITH(hippo_nplr(HippoMeasure::LegS, 7), Catch::Contains("must be even"));
}

TEST_CASE("s4: weights that are not an S4 block name what is wrong", "[ssm][s4]") {
  // The Hyena fixture's weights: no S4 kernel in them.
  Checkpoint hyena = Checkpoint::open_tensors(source_dir() / "tests/conformance/hyena/operator_0/model.safetensors");
  CHECK_THROWS_WITH(S4Block::load(hyena, "", {}), Catch::Contains("tensor 'layer.kernel.inv_dt' is missing"));
  std::int64_t L;
  const S4Block block = load_fixture(1, &L);
  CHECK_THROWS_WITH(block.forward(Tensor::zeros({1, 3, 10}, DType::F32)), Catch::Contains("x: expected (batch, 8, length)"));
}

TEST_CASE("s4: blocks on CUDA give the CPU's kernels and outputs", "[ssm][s4][cuda]") {
  SUBQ_SKIP_WITHOUT_CUDA();
  for (const int index : {0, 1, 2}) {  // S4 (DPLR), S4D diag-lin with ZOH, diag-inv with bilinear
    std::int64_t L;
    const S4Block cpu = load_fixture(index, &L), gpu = load_fixture(index, &L, Device::cuda());
    REQUIRE(gpu.device().is_cuda());
    std::mt19937 rng(index);
    for (const std::int64_t length : {std::int64_t(1), std::int64_t(37), L}) {
      INFO("block " << index << " length " << length);
      const Tensor K = s4_kernel(gpu.params(), length, Device::cuda());
      REQUIRE(K.device().is_cuda());
      CHECK(max_rel_diff(K, s4_kernel(cpu.params(), length)) < 1e-12);
      for (const DType dtype : {DType::F32, DType::F64}) {
        const Tensor x = random_tensor({2, cpu.H(), length}, dtype, rng, -1, 1);
        const Tensor y = gpu.forward(x.to(Device::cuda()));
        REQUIRE(y.device().is_cuda());
        REQUIRE(y.dtype() == dtype);
        CHECK(max_rel_diff(y, cpu.forward(x)) < (dtype == DType::F64 ? 1e-12 : 1e-6));
      }
    }
    CHECK_THROWS_WITH(gpu.forward(Tensor::zeros({1, cpu.H(), 5}, DType::F32)),
                      Catch::Contains("x is on cpu, the block's weights on cuda:0"));
    if (index > 0)
      CHECK_THROWS_WITH(gpu.forward_recurrent(Tensor::zeros({1, cpu.H(), 5}, DType::F32, Device::cuda())),
                        Catch::Contains("runs on the CPU only"));
  }
}
