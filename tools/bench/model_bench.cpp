#include "tools/bench/model_bench.hpp"

#include <fmt/format.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "bench/copy_bandwidth.hpp"
#include "bench/peak_memory.hpp"
#include "bench/timing.hpp"
#include "core/atomic_file.hpp"
#include "core/thread_pool.hpp"
#include "lm/language_model.hpp"
#include "tools/device_option.hpp"
#include "tools/load_options.hpp"

namespace subq::tools {

namespace {

// Decoding steps timed after the prompt: enough for a steady rate, few enough for a big model.
constexpr int kDecodeSteps = 32;
// The best of this many runs of them: on a shared machine (this project's CI kind) some run slow.
constexpr int kDecodeRepeats = 5;

Tensor random_ids(std::int64_t L, std::int64_t vocab) {
  std::mt19937 rng(3);
  std::uniform_int_distribution<std::int64_t> id(0, vocab - 1);
  std::vector<std::int64_t> ids(static_cast<std::size_t>(L));
  for (std::int64_t& i : ids) i = id(rng);
  return Tensor::from_vector(ids, {1, L});
}

// One weight format's run: its memory, prefill and decoding speed, into json.
nlohmann::json bench_format(const BenchOptions& o, Device device, std::optional<DType> format, double copy) {
  bench::release_freed_memory();  // what an earlier run freed, out of this one's count
  const double before = bench::process_memory_bytes("VmRSS");
  const LanguageModel model = LanguageModel::load(o.model, device, {.weights = format});
  const std::int64_t V = model.vocab_size();
  const double weights = double(model.decode_weight_bytes());
  {  // warm-up: first-use allocations and plans, and a mapped checkpoint's pages read in
    ModelCache cache;
    model.prefill(random_ids(16, V), cache);
  }
  bench::release_freed_memory();  // loading's temporary buffers
  const double resident = bench::process_memory_bytes("VmRSS") - before;
  const std::string name = format ? std::string(dtype_name(*format)) : "stored";
  fmt::print(
      "\n{} model, vocabulary {}; weights {}: {:.1f} MiB held, {:.1f} MiB resident after loading, {:.1f} MiB read per "
      "decoding step\n",
      model.architecture(), V, name, double(model.weight_bytes()) / double(1 << 20), resident / double(1 << 20),
      weights / double(1 << 20));
  nlohmann::json json{{"architecture", model.architecture()},
                      {"weights", name},
                      {"weight_bytes", model.weight_bytes()},
                      {"resident_bytes", resident},
                      {"decode_weight_bytes", weights}};
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
  const double step = bench::best_seconds(kDecodeRepeats, device,
                                          [&] {
                                            for (int i = 0; i < kDecodeSteps; ++i) model.step(next, decoding);
                                          }) /
                      kDecodeSteps;
  const double fraction = weights / step / copy;
  fmt::print(
      "decode after {} tokens: {:.1f} tok/s, weights read at {:.1f} GB/s = {:.3f} of the copy bandwidth {:.1f} GB/s\n",
      prompts.front(), 1 / step, weights / step / 1e9, fraction, copy / 1e9);
  json["decode"] = {{"context", prompts.front()},
                    {"tokens_per_second", 1 / step},
                    {"weight_bytes_per_second", weights / step},
                    {"copy_bandwidth", copy},
                    {"floor_fraction", fraction}};
  return json;
}

// "f32,bf16,q8_0" -> the formats, in order.
std::vector<std::optional<DType>> formats(const std::string& list) {
  std::vector<std::optional<DType>> all;
  for (std::size_t begin = 0; begin <= list.size();) {
    const std::size_t end = std::min(list.find(',', begin), list.size());
    all.push_back(weight_format(list.substr(begin, end - begin)));
    begin = end + 1;
  }
  return all;
}

}  // namespace

int run_model_bench(const BenchOptions& o) {
  const Device device = usable_device(o.device);
  const std::vector<std::optional<DType>> runs = formats(o.dtype);
  // Measured before the models, so that its buffers stay out of theirs.
  const double copy = bench::copy_bandwidth(device);
  fmt::print("{}: {} ({}), {} threads, copy bandwidth {:.1f} GB/s\n", o.model, to_string(device), cpu_isa(),
             ThreadPool::global().size(), copy / 1e9);
  nlohmann::json json{{"model", o.model}, {"device", to_string(device)}, {"copy_bandwidth", copy}};
  for (const std::optional<DType>& format : runs) json["runs"].push_back(bench_format(o, device, format, copy));
  json["architecture"] = json["runs"][0]["architecture"];
  if (runs.size() > 1) {  // each format against the first, measured in this run
    const nlohmann::json& first = json["runs"][0];
    fmt::print("\n{:>8} {:>14} {:>14} {:>12} {:>12}\n", "weights", "resident MiB", "decode tok/s", "x first",
               "memory x");
    for (const nlohmann::json& r : json["runs"]) {
      const double speed = r["decode"]["tokens_per_second"].get<double>(), memory = r["resident_bytes"].get<double>();
      fmt::print("{:>8} {:>14.1f} {:>14.1f} {:>12.2f} {:>12.3f}\n", r["weights"].get<std::string>(),
                 memory / double(1 << 20), speed, speed / first["decode"]["tokens_per_second"].get<double>(),
                 memory / first["resident_bytes"].get<double>());
    }
  }
  write_file_atomically(o.out + "_model.json", json.dump(1) + "\n");
  fmt::print("wrote {}_model.json\n", o.out);
  return 0;
}

}  // namespace subq::tools
