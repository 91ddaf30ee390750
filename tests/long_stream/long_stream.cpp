// Long-stream stability: every recurrent operator streams TOKENS tokens (default 2^20) in windows
// of 4096, each window starting from the state the last one left, as `subq ppl --stream` runs a
// model. The same operands (made per window from a seed, in float64, at the scales a trained
// layer feeds its operator) run in float32 and in float64, and at checkpoints along the way
// (4K, 16K, 64K, 256K, 1M) the float32 outputs and state are compared with float64's:
//   drift = max |x32 - x64| / max |x64|   over the window ending there (outputs) and the state
// The run fails when a value is not finite or a drift exceeds kMaxDrift.
//
//   subq_long_stream [TOKENS] [--only NAME]       (scripts/long_stream.sh)
#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "recurrent/delta_rule.hpp"
#include "recurrent/gla.hpp"
#include "recurrent/linear_attention.hpp"
#include "recurrent/mlstm.hpp"
#include "recurrent/retention.hpp"
#include "recurrent/rglru.hpp"
#include "recurrent/wkv4.hpp"
#include "recurrent/wkv6.hpp"
#include "recurrent/wkv7.hpp"
#include "ssm/selective_scan.hpp"
#include "ssm/ssd.hpp"

using namespace subq;
using namespace subq::recurrent;

namespace {

constexpr std::int64_t kWindow = 4096;
// Float32 keeps about 7 digits; over a million steps a state of decays <= 1 forgets its early
// rounding, so the drift stays near the rounding of one window. 1e-3 of the output scale leaves
// room for the operators whose outputs divide (WKV-4, normalised linear attention, mLSTM).
constexpr double kMaxDrift = 1e-3;
constexpr std::int64_t kHeads = 2, kDim = 64;  // heads x d_k = d_v, as the 130M-class layers' per head

// Operands of window w: seeded by (mixer, w), so both precisions and any rerun get the same.
struct Operands {
  std::mt19937_64 rng;
  Operands(std::uint64_t mixer, std::int64_t window) : rng(mixer * 1000003u + std::uint64_t(window)) {}
  Tensor uniform(const Shape& shape, double lo, double hi) {
    std::uniform_real_distribution<double> u(lo, hi);
    Tensor t = Tensor::empty(shape, DType::F64);
    for (std::int64_t i = 0; i < t.numel(); ++i) t.data<double>()[i] = u(rng);
    return t;
  }
  Tensor normal(const Shape& shape, double sigma) {
    std::normal_distribution<double> n(0, sigma);
    Tensor t = Tensor::empty(shape, DType::F64);
    for (std::int64_t i = 0; i < t.numel(); ++i) t.data<double>()[i] = n(rng);
    return t;
  }
  // Unit rows along the last extent (normalised keys).
  Tensor unit_rows(const Shape& shape) {
    Tensor t = normal(shape, 1);
    const std::int64_t n = shape.back();
    for (std::int64_t r = 0; r < t.numel() / n; ++r) {
      double* row = t.data<double>() + r * n;
      double sum = 0;
      for (std::int64_t i = 0; i < n; ++i) sum += row[i] * row[i];
      for (std::int64_t i = 0; i < n; ++i) row[i] /= std::sqrt(sum);
    }
    return t;
  }
};

// One window of an operator: its output and the state it leaves (several tensors for some).
struct Step {
  Tensor out;
  std::vector<Tensor> state;
};
// Runs window w at dtype from `state` (empty: the start).
using Window = std::function<Step(std::int64_t w, DType dtype, const std::vector<Tensor>& state)>;

struct Stream {
  std::string name;
  Window window;
};

Tensor at(const std::vector<Tensor>& state, std::size_t i) { return state.empty() ? Tensor{} : state[i]; }

const Shape kQk = {1, kWindow, kHeads, kDim};

std::vector<Stream> streams() {
  std::vector<Stream> all;
  // Mamba: dt = softplus(delta + bias) in [1e-3, 0.1] as mamba initialises it, A = -(1..16) (S4D-real).
  all.push_back({"selective scan (Mamba)", [](std::int64_t w, DType d, const std::vector<Tensor>& s) {
                   Operands o(1, w);
                   const std::int64_t D = 128, N = 16;
                   Tensor A = Tensor::empty({D, N}, DType::F64);
                   for (std::int64_t i = 0; i < D * N; ++i) A.data<double>()[i] = -double(i % N + 1);
                   Tensor dt = o.uniform({1, D, kWindow}, std::log(1e-3), std::log(0.1));
                   for (std::int64_t i = 0; i < dt.numel(); ++i)
                     dt.data<double>()[i] = std::log(std::expm1(std::exp(dt.data<double>()[i])));  // softplus^-1
                   ssm::SelectiveScanOptions options;
                   options.delta_softplus = true;
                   options.initial_state = at(s, 0);
                   const auto r = ssm::selective_scan(o.normal({1, D, kWindow}, 1).to(d), dt.to(d), A.to(d),
                                                      o.normal({1, N, kWindow}, 1).to(d),
                                                      o.normal({1, N, kWindow}, 1).to(d), options);
                   return Step{r.out, {r.final_state}};
                 }});
  // Mamba-2: log-decay dt * A with dt in [1e-3, 0.1] and A in [1, 16], X = dt x.
  all.push_back({"SSD (Mamba-2)", [](std::int64_t w, DType d, const std::vector<Tensor>& s) {
                   Operands o(2, w);
                   Tensor dt = o.uniform({1, kWindow, kHeads}, 1e-3, 0.1), A = o.uniform({1, kWindow, kHeads}, 1, 16);
                   Tensor log_decay = Tensor::empty(dt.shape(), DType::F64), X = o.normal(kQk, 1);
                   for (std::int64_t i = 0; i < dt.numel(); ++i) {
                     log_decay.data<double>()[i] = -dt.data<double>()[i] * A.data<double>()[i];
                     for (std::int64_t p = 0; p < kDim; ++p) X.data<double>()[i * kDim + p] *= dt.data<double>()[i];
                   }
                   ssm::SsdOptions options;
                   options.initial_state = at(s, 0);
                   const auto r = ssm::ssd(X.to(d), log_decay.to(d), o.normal({1, kWindow, 1, 128}, 1).to(d),
                                           o.normal({1, kWindow, 1, 128}, 1).to(d), options);
                   return Step{r.Y, {r.final_state}};
                 }});
  // RWKV-4: decays -exp(time_decay) for time_decay in [-6, 1], keys up to +-8 (the stabiliser's case).
  all.push_back({"WKV-4 (RWKV-4)", [](std::int64_t w, DType d, const std::vector<Tensor>& s) {
                   Operands weights(3, 0), o(3, w + 1);
                   const std::int64_t C = kHeads * kDim;
                   const Tensor decay = weights.uniform({C}, -6, 1), first = weights.uniform({C}, -1, 1);
                   Wkv4Options options;
                   if (!s.empty()) options.initial_state = {s[0], s[1], s[2]};
                   const auto r = wkv4(decay.to(d), first.to(d), o.uniform({1, kWindow, C}, -8, 8).to(d),
                                       o.normal({1, kWindow, C}, 1).to(d), options);
                   return Step{r.out, {r.final_state.num, r.final_state.den, r.final_state.max}};
                 }});
  // RWKV-6: w = -exp(x), x in [-6, 0]: per-step decays from 0.37 to 0.9975.
  all.push_back({"WKV-6 (RWKV-6)", [](std::int64_t w, DType d, const std::vector<Tensor>& s) {
                   Operands weights(4, 0), o(4, w + 1);
                   Tensor log_decay = o.uniform(kQk, -6, 0);
                   for (std::int64_t i = 0; i < log_decay.numel(); ++i)
                     log_decay.data<double>()[i] = -std::exp(log_decay.data<double>()[i]);
                   Wkv6Options options;
                   options.initial_state = at(s, 0);
                   const auto r = wkv6(o.normal(kQk, 1).to(d), o.normal(kQk, 0.125).to(d), o.normal(kQk, 1).to(d),
                                       log_decay.to(d), weights.normal({kHeads, kDim}, 0.5).to(d), options);
                   return Step{r.o, {r.final_state}};
                 }});
  // RWKV-7: a = -kk, b = kk * a_gate with kk unit keys and a_gate in (0, 1); w in [-0.6, -0.005].
  all.push_back({"WKV-7 (RWKV-7)", [](std::int64_t w, DType d, const std::vector<Tensor>& s) {
                   Operands o(5, w);
                   const Tensor kk = o.unit_rows(kQk), gate = o.uniform(kQk, 0, 1);
                   Tensor a = kk.clone(), b = kk.clone();
                   for (std::int64_t i = 0; i < kk.numel(); ++i) {
                     a.data<double>()[i] = -kk.data<double>()[i];
                     b.data<double>()[i] = kk.data<double>()[i] * gate.data<double>()[i];
                   }
                   Wkv7Options options;
                   options.initial_state = at(s, 0);
                   const auto r = wkv7(o.normal(kQk, 1).to(d), o.uniform(kQk, -0.6, -0.005).to(d),
                                       o.normal(kQk, 0.125).to(d), o.normal(kQk, 1).to(d), a.to(d), b.to(d), options);
                   return Step{r.o, {r.final_state}};
                 }});
  all.push_back({"retention (RetNet)", [](std::int64_t w, DType d, const std::vector<Tensor>& s) {
                   Operands o(6, w);
                   RetentionOptions options;
                   options.initial_state = at(s, 0);
                   const auto r =
                       retention(o.normal(kQk, 1).to(d), o.normal(kQk, 1).to(d), o.normal(kQk, 1).to(d), options);
                   return Step{r.o, {r.final_state}};
                 }});
  // GLA: gk = logsigmoid(x) / 16 as fla's layer makes it.
  all.push_back({"GLA", [](std::int64_t w, DType d, const std::vector<Tensor>& s) {
                   Operands o(7, w);
                   Tensor gk = o.normal(kQk, 1);
                   for (std::int64_t i = 0; i < gk.numel(); ++i)
                     gk.data<double>()[i] = -std::log1p(std::exp(-gk.data<double>()[i])) / 16;
                   GlaOptions options;
                   options.scale = 1 / std::sqrt(double(kDim));
                   options.initial_state = at(s, 0);
                   const auto r =
                       gla(o.normal(kQk, 1).to(d), o.normal(kQk, 1).to(d), o.normal(kQk, 1).to(d), gk.to(d), options);
                   return Step{r.o, {r.final_state}};
                 }});
  // DeltaNet and Gated DeltaNet: L2-normalised q and k, beta = sigmoid, g = -softplus-sized decays.
  for (const bool gated : {false, true})
    all.push_back(
        {gated ? "Gated DeltaNet" : "DeltaNet", [gated](std::int64_t w, DType d, const std::vector<Tensor>& s) {
           Operands o(gated ? 9 : 8, w);
           DeltaRuleOptions options;
           options.scale = 1 / std::sqrt(double(kDim));
           options.l2_normalize = true;
           if (gated) options.g = o.uniform({1, kWindow, kHeads}, -0.7, -0.001).to(d);
           options.initial_state = at(s, 0);
           const auto r = delta_rule(o.normal(kQk, 1).to(d), o.normal(kQk, 1).to(d), o.normal(kQk, 1).to(d),
                                     o.uniform({1, kWindow, kHeads}, 0.05, 0.95).to(d), options);
           return Step{r.o, {r.final_state}};
         }});
  // mLSTM: input gates N(0, 3), forget pre-activations N(4, 1.5) (xlstm initialises the bias at 3-6).
  all.push_back({"mLSTM (xLSTM)", [](std::int64_t w, DType d, const std::vector<Tensor>& s) {
                   Operands o(10, w);
                   Tensor f = o.normal({1, kWindow, kHeads}, 1.5);
                   for (std::int64_t i = 0; i < f.numel(); ++i) f.data<double>()[i] += 4;
                   MlstmOptions options;
                   if (!s.empty()) options.initial_C = s[0], options.initial_n = s[1], options.initial_m = s[2];
                   const auto r = mlstm(o.normal(kQk, 1).to(d), o.normal(kQk, 1).to(d), o.normal(kQk, 1).to(d),
                                        o.normal({1, kWindow, kHeads}, 3).to(d), f.to(d), options);
                   return Step{r.h, {r.final_C, r.final_n, r.final_m}};
                 }});
  // Griffin's RG-LRU: a = sigmoid(a_param)^(8 r), a_param set so that a^8 is in [0.9, 0.999] as Griffin does.
  all.push_back({"RG-LRU (Griffin)", [](std::int64_t w, DType d, const std::vector<Tensor>& s) {
                   Operands weights(11, 0), o(11, w + 1);
                   const std::int64_t width = kHeads * kDim, block = width / kHeads;
                   Tensor a_param = weights.uniform({width}, std::pow(0.9, 1.0 / 8), std::pow(0.999, 1.0 / 8));
                   for (std::int64_t i = 0; i < width; ++i) {
                     const double a = a_param.data<double>()[i];
                     a_param.data<double>()[i] = std::log(a / (1 - a));  // sigmoid^-1
                   }
                   const double gate = 1 / std::sqrt(double(block));
                   const RgLru layer{a_param.to(d), weights.normal({kHeads, block, block}, gate).to(d),
                                     weights.normal({kHeads, block}, 0.1).to(d),
                                     weights.normal({kHeads, block, block}, gate).to(d),
                                     weights.normal({kHeads, block}, 0.1).to(d)};
                   const auto r = rglru(layer, o.normal({1, kWindow, width}, 1).to(d), {}, at(s, 0));
                   return Step{r.y, {r.last_h}};
                 }});
  // Linear attention, normalised, with elu + 1 features: the state only grows (no decay).
  all.push_back({"linear attention", [](std::int64_t w, DType d, const std::vector<Tensor>& s) {
                   Operands o(12, w);
                   LinearAttentionOptions options;
                   options.feature_map = FeatureMap::Elu1;
                   options.normalize = true;
                   options.scale = 1 / std::sqrt(double(kDim));
                   if (!s.empty()) options.initial_state = s[0], options.initial_normalizer = s[1];
                   const auto r = linear_attention(o.normal(kQk, 1).to(d), o.normal(kQk, 1).to(d),
                                                   o.normal(kQk, 1).to(d), options);
                   return Step{r.o, {r.final_state, r.final_normalizer}};
                 }});
  return all;
}

bool all_finite(const Tensor& t) {
  const Tensor x = t.to(DType::F64).contiguous();
  for (std::int64_t i = 0; i < x.numel(); ++i)
    if (!std::isfinite(x.data<double>()[i])) return false;
  return true;
}

// max |x - y| / max |y|.
double drift(const Tensor& x, const Tensor& y) {
  const Tensor a = x.to(DType::F64).contiguous(), b = y.to(DType::F64).contiguous();
  double worst = 0, scale = 0;
  for (std::int64_t i = 0; i < a.numel(); ++i) {
    worst = std::max(worst, std::abs(a.data<double>()[i] - b.data<double>()[i]));
    scale = std::max(scale, std::abs(b.data<double>()[i]));
  }
  return scale > 0 ? worst / scale : worst;
}

// The window's drift: outputs and every state tensor (mLSTM's stabiliser m compared as is).
double window_drift(const Step& f32, const Step& f64) {
  double worst = drift(f32.out, f64.out);
  for (std::size_t i = 0; i < f32.state.size(); ++i) worst = std::max(worst, drift(f32.state[i], f64.state[i]));
  return worst;
}

bool is_checkpoint(std::int64_t tokens) {
  return tokens >= kWindow && (tokens & (tokens - 1)) == 0 && std::countr_zero(std::uint64_t(tokens)) % 2 == 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::int64_t tokens = std::int64_t(1) << 20;
  std::string only;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--only" && i + 1 < argc)
      only = argv[++i];
    else
      tokens = std::max<std::int64_t>(kWindow, std::atoll(argv[i]) / kWindow * kWindow);
  }
  fmt::print(
      "long streams: {} tokens in windows of {}, float32 against float64; drift = max |x32 - x64| / max |x64| "
      "(outputs of the window, state), bound {:.0e}\n",
      tokens, kWindow, kMaxDrift);
  std::vector<std::int64_t> checkpoints;
  for (std::int64_t t = kWindow; t <= tokens; t += kWindow)
    if (is_checkpoint(t) || t == tokens) checkpoints.push_back(t);
  fmt::print("{:<24}", "mixer");
  for (const std::int64_t t : checkpoints)
    fmt::print(" {:>9}", t >= 1 << 20 ? fmt::format("{}M", t >> 20) : fmt::format("{}K", t >> 10));
  fmt::print(" {:>9}\n", "seconds");
  int failures = 0;
  for (const Stream& stream : streams()) {
    if (!only.empty() && stream.name.find(only) == std::string::npos) continue;
    const auto start = std::chrono::steady_clock::now();
    fmt::print("{:<24}", stream.name);
    std::fflush(stdout);
    std::vector<Tensor> s32, s64;
    bool ok = true;
    for (std::int64_t w = 0; w < tokens / kWindow && ok; ++w) {
      const Step f32 = stream.window(w, DType::F32, s32), f64 = stream.window(w, DType::F64, s64);
      s32 = f32.state, s64 = f64.state;
      const std::int64_t done = (w + 1) * kWindow;
      const bool finite = all_finite(f32.out) && std::all_of(s32.begin(), s32.end(), all_finite);
      if (!finite || std::find(checkpoints.begin(), checkpoints.end(), done) != checkpoints.end()) {
        const double d = finite ? window_drift(f32, f64) : INFINITY;
        ok = finite && d <= kMaxDrift;
        fmt::print(" {:>9}", finite ? fmt::format("{:.2e}", d) : fmt::format("NaN@{}", done));
        std::fflush(stdout);
      }
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    fmt::print(" {:>9.1f}{}\n", seconds, ok ? "" : "  FAILED");
    failures += !ok;
  }
  fmt::print("long streams: {}\n",
             failures ? fmt::format("{} FAILED", failures) : "every mixer finite and within the bound");
  return failures ? 1 : 0;
}
