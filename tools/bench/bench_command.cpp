#include "tools/bench/bench_command.hpp"

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <random>

#include "attention/attention.hpp"
#include "bench/operator_costs.hpp"
#include "bench/peak_memory.hpp"
#include "bench/random_hyena.hpp"
#include "bench/timing.hpp"
#include "conv/fft_conv.hpp"
#include "conv/real_fft.hpp"
#include "core/atomic_file.hpp"
#include "core/memory.hpp"
#include "core/thread_pool.hpp"
#include "recurrent/retention.hpp"
#include "recurrent/wkv6.hpp"
#include "recurrent/wkv7.hpp"
#include "ssm/selective_scan.hpp"
#include "ssm/ssd.hpp"
#include "tools/device_option.hpp"
#include "tools/plot/line_plot.hpp"

namespace subq::tools {

namespace {

// Where the runs' inputs are made and their work runs.
Device bench_device = Device::cpu();

Tensor uniform(const Shape& shape, float lo, float hi) {
  static std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(lo, hi);
  Tensor t = Tensor::empty(shape, DType::F32);
  for (std::int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = u(rng);
  return t.to(bench_device);
}

// A mixer at one width: setup(L, context) makes the inputs for L new tokens after `context`
// cached ones (prefill: context 0; decoding: L = 1) and returns the work to time (which returns
// its output), or no work where the device has none; cost(L) is a prefill's least work
// (bench/operator_costs.hpp).
using Work = std::function<Tensor()>;
struct Mixer {
  std::string name, shape;
  std::function<bench::Cost(std::int64_t L)> cost;
  std::function<Work(std::int64_t L, std::int64_t context)> setup;
};

std::vector<Mixer> mixers() {
  std::vector<Mixer> m;
  m.push_back({"mamba_selective_scan", "D 2048, N 16",
               [](std::int64_t L) { return bench::costs::selective_scan(2048, L, 16); },
               [](std::int64_t L, std::int64_t) -> Work {
                 const std::int64_t D = 2048, N = 16;
                 ssm::SelectiveScanOptions o;
                 o.delta_softplus = true;
                 o.z = uniform({1, D, L}, -1, 1);
                 const Tensor u = uniform({1, D, L}, -1, 1), dt = uniform({1, D, L}, -4, 0), A = uniform({D, N}, -8, -1),
                              B = uniform({1, N, L}, -1, 1), C = uniform({1, N, L}, -1, 1);
                 return [=] { return ssm::selective_scan(u, dt, A, B, C, o).out; };
               }});
  m.push_back({"mamba2_ssd", "64 heads x 64, N 128", [](std::int64_t L) { return bench::costs::ssd(L, 64, 64, 128); },
               [](std::int64_t L, std::int64_t) -> Work {
                 const ssm::SsdOptions o;
                 const Tensor X = uniform({1, L, 64, 64}, -1, 1), A = uniform({1, L, 64}, -0.1f, 0), B = uniform({1, L, 1, 128}, -1, 1),
                              C = uniform({1, L, 1, 128}, -1, 1);
                 return [=] { return ssm::ssd(X, A, B, C, o).Y; };
               }});
  m.push_back({"rwkv6_wkv", "32 heads x 64", [](std::int64_t L) { return bench::costs::wkv6(L, 32, 64); },
               [](std::int64_t L, std::int64_t) -> Work {
                 const Shape s{1, L, 32, 64};
                 const Tensor r = uniform(s, -1, 1), k = uniform(s, -1, 1), v = uniform(s, -1, 1), w = uniform(s, -2, 0),
                              u = uniform({32, 64}, -1, 1);
                 if (L == 1 && bench_device.is_cpu()) return [=] { return recurrent::wkv6_recurrent(r, k, v, w, u).o; };
                 return [=] { return recurrent::wkv6(r, k, v, w, u).o; };
               }});
  m.push_back({"rwkv7_wkv", "32 heads x 64", [](std::int64_t L) { return bench::costs::wkv7(L, 32, 64); },
               [](std::int64_t L, std::int64_t) -> Work {
                 const Shape s{1, L, 32, 64};
                 const Tensor r = uniform(s, -1, 1), w = uniform(s, -0.6f, 0), k = uniform(s, -1, 1), v = uniform(s, -1, 1),
                              a = uniform(s, -0.1f, 0.1f), b = uniform(s, -0.1f, 0.1f);
                 return [=] { return recurrent::wkv7(r, w, k, v, a, b).o; };
               }});
  m.push_back({"retnet_retention", "8 heads, key 256, value 512",
               [](std::int64_t L) { return bench::costs::retention(L, 8, 256, 512); },
               [](std::int64_t L, std::int64_t) -> Work {
                 const Tensor q = uniform({1, L, 8, 256}, -1, 1), k = uniform({1, L, 8, 256}, -1, 1), v = uniform({1, L, 8, 512}, -1, 1);
                 return [=] { return recurrent::retention(q, k, v).o; };
               }});
  m.push_back({"attention", "16 heads x 128", [](std::int64_t L) { return bench::costs::attention(L, 0, 16, 128); },
               [](std::int64_t L, std::int64_t context) -> Work {
                 const std::int64_t S = context + L;
                 const Tensor q = uniform({1, L, 16, 128}, -1, 1), k = uniform({1, S, 16, 128}, -1, 1), v = uniform({1, S, 16, 128}, -1, 1);
                 return [=] { return attention::causal_attention(q, k, v, 0.088); };
               }});
  m.push_back({"fft_long_conv", "D 864", [](std::int64_t L) { return bench::costs::fft_conv(864, L); },
               [](std::int64_t L, std::int64_t context) -> Work {
                 if (L > 1 || context == 0) {
                   const Tensor x = uniform({1, 864, L}, -1, 1), k = uniform({1, 864, L}, -1, 1);
                   return [=] { return conv::fft_causal_conv(x, k); };
                 }
                 // Decoding a long convolution: each new output is a dot product over the history (a
                 // CPU loop here).
                 if (bench_device.is_cuda()) return nullptr;
                 const Tensor x = uniform({864, context}, -1, 1), k = uniform({864, context}, -1, 1);
                 return [=] {
                   const float *xp = x.data<float>(), *kp = k.data<float>();
                   double sum = 0;
                   for (std::int64_t i = 0; i < x.numel(); ++i) sum += double(xp[i]) * kp[i];
                   Tensor y = Tensor::empty({864}, DType::F32);
                   std::fill(y.data<float>(), y.data<float>() + 864, float(sum));
                   return y;
                 };
               }});
  m.push_back({"hyena_operator", "D 864, order 2", [](std::int64_t L) { return bench::costs::hyena(864, L); },
               [](std::int64_t L, std::int64_t context) -> Work {
                 // Hyena has no recurrent form: a new token reruns the operator over the whole history.
                 const std::int64_t T = context + L;
                 const auto op = std::make_shared<conv::HyenaOperator>(bench::random_hyena(864, T, bench_device));
                 const Tensor u = uniform({1, T, 864}, -1, 1);
                 return [=] { return op->forward(u); };
               }});
  return m;
}

template <class F>
double seconds(F f) {
  return bench::seconds(bench_device, f);
}

struct Row {
  std::string mixer, shape;
  std::int64_t length;
  double prefill_seconds, prefill_tokens_per_second, decode_tokens_per_second, peak_rss_mib;
  bench::Cost cost;              // the prefill's least work
  double roofline_fraction = 0;  // the prefill's floor / its time
  std::string bound;             // the ceiling that sets the floor
};

// Seconds per decoding step after L tokens of context: at least one step after a warm-up (first
// touches and thread wake-ups are not decoding), up to 10 or half a second. NaN where the device
// has no decoding work for the mixer.
double decode_seconds(const Mixer& m, std::int64_t L) {
  const Work step = m.setup(1, L);
  if (!step) return NAN;
  step();
  int steps = 0;
  const double total = seconds([&] {
    const auto t0 = std::chrono::steady_clock::now();
    do step(), ++steps;
    while (steps < 10 && std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() < 0.5);
  });
  return total / steps;
}

// One length of one mixer: the prefill's time and peak memory (its inputs included), then decoding.
Row measure(const Mixer& m, std::int64_t L) {
  const bench::RunPeakMemory memory;
  const Work work = m.setup(L, 0);
  Tensor output;
  const double prefill = seconds([&] { output = work(); });
  const double peak = memory.bytes();
  output = Tensor{};
  return {m.name,   m.shape, L, prefill, double(L) / prefill, 1.0 / decode_seconds(m, L), peak / double(1 << 20),
          m.cost(L)};
}

}  // namespace

int run_bench(const BenchOptions& o) {
  const std::vector<std::int64_t> lengths =
      o.quick ? std::vector<std::int64_t>{1024, 4096} : std::vector<std::int64_t>{1024, 4096, 16384, 65536, 262144, 1048576};
  const double budget = o.quick ? 4.0 : 60.0;  // a mixer stops growing L once one prefill takes longer
  std::vector<Row> rows;
  bench_device = usable_device(o.device);
  if (bench_device.is_cpu())
    fmt::print("CPU ({}), {} threads, FFT backend {}\n", cpu_isa(), ThreadPool::global().size(),
               conv::RealFft<float>::backend());
  else
    fmt::print("{}: {} (peak MiB: host memory only)\n", to_string(bench_device), cuda_status());
  fmt::print("{:<22} {:>9} {:>11} {:>14} {:>14} {:>10}\n", "mixer", "L", "prefill s", "prefill tok/s", "decode tok/s",
             bench::peak_memory_is_per_run() ? "peak MiB" : "proc. MiB");
  for (const Mixer& m : mixers()) {
    if (!o.only.empty() && m.name.find(o.only) == std::string::npos) continue;
    for (const std::int64_t L : lengths) {
      // As far as memory allows: the last run's peak, grown in proportion to L, must fit.
      const double needed = rows.empty() || rows.back().mixer != m.name
                                ? 0.0
                                : rows.back().peak_rss_mib * double(1 << 20) * double(L) / double(rows.back().length);
      if (bench_device.is_cpu() && needed > 0.8 * double(available_memory_bytes())) {
        fmt::print("{:<22} {:>9} skipped: needs about {:.1f} GiB, {:.1f} GiB available\n", m.name, L, needed / double(1 << 30),
                   double(available_memory_bytes()) / double(1 << 30));
        break;
      }
      rows.push_back(measure(m, L));
      const Row& r = rows.back();
      fmt::print("{:<22} {:>9} {:>11.3f} {:>14.0f} {:>14.1f} {:>10.0f}\n", r.mixer, r.length, r.prefill_seconds,
                 r.prefill_tokens_per_second, r.decode_tokens_per_second, r.peak_rss_mib);
      std::fflush(stdout);
      if (r.prefill_seconds > budget) break;
    }
  }
  // Measured after the runs, so that their buffers do not count in the runs' peak memory.
  const bench::Ceilings& ceilings = bench::ceilings(bench_device);
  fmt::print("prefill roofline fraction (bench/roofline.hpp): copy {:.1f} GB/s, GEMM {:.1f} GFLOP/s, exp {}\n",
             ceilings.copy_bytes / 1e9, ceilings.gemm_flops / 1e9,
             std::isfinite(ceilings.exps) ? fmt::format("{:.2f} G/s", ceilings.exps / 1e9) : "not measured");
  for (Row& r : rows) {
    const bench::Floor floor = bench::roofline_floor(r.cost, ceilings);
    r.roofline_fraction = floor.seconds / r.prefill_seconds, r.bound = floor.bound;
    fmt::print("  {:<22} {:>9} {:>8.4f}  {}-bound\n", r.mixer, r.length, r.roofline_fraction, r.bound);
  }
  AtomicFile csv_file(o.out + ".csv");
  std::ofstream& csv = csv_file.stream();
  csv << "mixer,shape,length,prefill_seconds,prefill_tokens_per_second,decode_tokens_per_second,peak_rss_mib,"
         "roofline_fraction,bound\n";
  nlohmann::json json = nlohmann::json::array();
  std::vector<Series> prefill, decode;  // one per mixer, in the table's order
  for (const Row& r : rows) {
    csv << fmt::format("{},\"{}\",{},{:.6f},{:.1f},{:.2f},{:.1f},{:.6f},{}\n", r.mixer, r.shape, r.length,
                       r.prefill_seconds, r.prefill_tokens_per_second, r.decode_tokens_per_second, r.peak_rss_mib,
                       r.roofline_fraction, r.bound);
    json.push_back({{"mixer", r.mixer},
                    {"shape", r.shape},
                    {"length", r.length},
                    {"prefill_seconds", r.prefill_seconds},
                    {"prefill_tokens_per_second", r.prefill_tokens_per_second},
                    {"decode_tokens_per_second", r.decode_tokens_per_second},
                    {"peak_rss_mib", r.peak_rss_mib},
                    {"roofline_fraction", r.roofline_fraction},
                    {"bound", r.bound}});
    if (prefill.empty() || prefill.back().name != r.mixer) prefill.push_back({r.mixer, {}, {}}), decode.push_back({r.mixer, {}, {}});
    prefill.back().x.push_back(double(r.length)), prefill.back().y.push_back(std::log10(r.prefill_tokens_per_second));
    if (std::isfinite(r.decode_tokens_per_second))
      decode.back().x.push_back(double(r.length)), decode.back().y.push_back(std::log10(r.decode_tokens_per_second));
  }
  csv_file.commit();
  write_file_atomically(o.out + ".json", json.dump(1) + "\n");
  write_line_plot(o.out + ".png", prefill, {"prefill throughput", "L (tokens)", "log10 tokens/s"}, /*log_x=*/true);
  write_line_plot(o.out + "_decode.png", decode, {"decoding one token after L of context", "L (tokens)", "log10 tokens/s"},
                  /*log_x=*/true);
  fmt::print("wrote {0}.csv, {0}.json, {0}.png (prefill) and {0}_decode.png (decoding)\n", o.out);
  return 0;
}

}  // namespace subq::tools
