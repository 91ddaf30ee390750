#include "tools/bench/model_bench.hpp"

#include <fmt/format.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "bench/copy_bandwidth.hpp"
#include "bench/timing.hpp"
#include "core/thread_pool.hpp"
#include "lm/language_model.hpp"
#include "tools/device_option.hpp"

namespace subq::tools {

namespace {

// Decoding steps timed after the prompt: enough for a steady rate, few enough for a big model.
constexpr int kDecodeSteps = 32;

Tensor random_ids(std::int64_t L, std::int64_t vocab) {
  std::mt19937 rng(3);
  std::uniform_int_distribution<std::int64_t> id(0, vocab - 1);
  std::vector<std::int64_t> ids(static_cast<std::size_t>(L));
  for (std::int64_t& i : ids) i = id(rng);
  return Tensor::from_vector(ids, {1, L});
}

}  // namespace

int run_model_bench(const BenchOptions& o) {
  const Device device = usable_device(o.device);
  const LanguageModel model = LanguageModel::load(o.model, device);
  const std::int64_t V = model.vocab_size();
  const double weights = double(model.decode_weight_bytes());
  fmt::print("{}: {} model, vocabulary {}, {:.1f} MiB of weights read per decoding step; {} ({}), {} threads\n",
             o.model, model.architecture(), V, weights / double(1 << 20), to_string(device), cpu_isa(),
             ThreadPool::global().size());
  nlohmann::json json{{"model", o.model},
                      {"architecture", model.architecture()},
                      {"device", to_string(device)},
                      {"decode_weight_bytes", weights}};
  {  // warm-up: first-use allocations and plans
    ModelCache cache;
    model.prefill(random_ids(16, V), cache);
  }
  fmt::print("{:>8} {:>11} {:>14}\n", "prompt", "prefill s", "prefill tok/s");
  const std::vector<std::int64_t> prompts =
      o.quick ? std::vector<std::int64_t>{512} : std::vector<std::int64_t>{512, 4096};
  ModelCache decoding;  // left after the first prompt, for the decoding run
  for (const std::int64_t L : prompts) {
    ModelCache cache;
    const Tensor ids = random_ids(L, V);
    const double s = bench::seconds(device, [&] { model.prefill(ids, cache); });
    fmt::print("{:>8} {:>11.3f} {:>14.1f}\n", L, s, double(L) / s);
    json["prefill"].push_back({{"prompt", L}, {"seconds", s}, {"tokens_per_second", double(L) / s}});
    if (L == prompts.front()) decoding = std::move(cache);
  }
  const Tensor next = Tensor::from_vector(std::vector<std::int64_t>{1}, {1});
  model.step(next, decoding);  // the first step after a prompt may still grow buffers
  const double step = bench::seconds(device,
                                     [&] {
                                       for (int i = 0; i < kDecodeSteps; ++i) model.step(next, decoding);
                                     }) /
                      kDecodeSteps;
  // Measured after the runs, so that its buffers stay out of theirs.
  const double copy = bench::copy_bandwidth(device);
  const double fraction = weights / step / copy;
  fmt::print(
      "decode after {} tokens: {:.1f} tok/s, weights read at {:.1f} GB/s = {:.3f} of the copy bandwidth {:.1f} GB/s\n",
      prompts.front(), 1 / step, weights / step / 1e9, fraction, copy / 1e9);
  json["decode"] = {{"context", prompts.front()},
                    {"tokens_per_second", 1 / step},
                    {"weight_bytes_per_second", weights / step},
                    {"copy_bandwidth", copy},
                    {"floor_fraction", fraction}};
  std::ofstream(o.out + "_model.json") << json.dump(1) << "\n";
  fmt::print("wrote {}_model.json\n", o.out);
  return 0;
}

}  // namespace subq::tools
