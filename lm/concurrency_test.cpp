// One LanguageModel shared by several user threads, each with its own caches: every call gives
// the logits the same call gives alone, bit for bit (language_model.hpp: forward, prefill, step
// and score are safe to call concurrently on one model). The hybrid of every mixer covers the
// FFT plans, the thread pool (whose loops user threads take in turn) and the memory reuse cache.
#include <catch2/catch.hpp>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "lm/language_model.hpp"
#include "tests/source_dir.hpp"

using namespace subq;

namespace {

constexpr int kThreads = 4, kCalls = 50;

// Call k of thread t: a prompt of 1..13 tokens, run in parallel into a fresh cache, then two
// decoding steps; the logits of all three calls, concatenated.
std::vector<float> call(const LanguageModel& model, int t, int k) {
  std::mt19937 rng(std::uint32_t(1000 * t + k));
  const std::int64_t length = 1 + (t * kCalls + k) % 13;
  std::vector<std::int64_t> ids(static_cast<std::size_t>(length));
  for (auto& id : ids) id = std::int64_t(rng() % 256);
  ModelCache cache;
  std::vector<float> out;
  auto keep = [&](const Tensor& logits) {
    const Tensor c = logits.contiguous();
    out.insert(out.end(), c.data<float>(), c.data<float>() + c.numel());
  };
  keep(model.forward(Tensor::from_vector(ids, {1, length}), &cache));
  for (int s = 0; s < 2; ++s)
    keep(model.step(Tensor::from_vector<std::int64_t>({std::int64_t(rng() % 256)}, {1}), cache));
  return out;
}

std::string all_mixers() {
  std::ifstream in(source_dir() / "examples/hybrid_all_mixers.json");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

TEST_CASE("concurrency: 4 threads x 50 calls on one model give the serial logits bit for bit", "[lm][concurrency]") {
  const LanguageModel model = LanguageModel::random(all_mixers(), 11);
  std::vector<std::vector<float>> serial(kThreads * kCalls);
  for (int t = 0; t < kThreads; ++t)
    for (int k = 0; k < kCalls; ++k) serial[std::size_t(t * kCalls + k)] = call(model, t, k);
  // Catch's assertions are not thread-safe: the threads only count, the checks come after.
  std::vector<int> mismatches(kThreads, 0), errors(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int k = 0; k < kCalls; ++k) try {
          const std::vector<float> got = call(model, t, k), &want = serial[std::size_t(t * kCalls + k)];
          if (got.size() != want.size() || std::memcmp(got.data(), want.data(), got.size() * sizeof(float)) != 0)
            ++mismatches[std::size_t(t)];
        } catch (...) {
          ++errors[std::size_t(t)];
        }
    });
  for (std::thread& t : threads) t.join();
  for (int t = 0; t < kThreads; ++t) {
    INFO("thread " << t);
    CHECK(mismatches[std::size_t(t)] == 0);
    CHECK(errors[std::size_t(t)] == 0);
  }
}
