#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/safetensors.hpp"
#include "lm/scorer.hpp"
#include "tests/source_dir.hpp"

using namespace subq;
namespace fs = std::filesystem;

namespace {

std::vector<std::int64_t> file_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  const std::string text = s.str();
  std::vector<std::int64_t> ids(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) ids[i] = static_cast<unsigned char>(text[i]);
  return ids;
}

Document bytes_document(std::vector<std::int64_t> ids) {
  const auto n = std::int64_t(ids.size());
  return {"text", std::move(ids), n, 0};
}

// A small model over 16 tokens: Mamba, attention and RWKV-7 layers.
const LanguageModel& toy_model() {
  static const LanguageModel model = LanguageModel::random(
      R"({"model_type": "subq_hybrid", "vocab_size": 16, "hidden_size": 16, "intermediate_size": 16,
          "layer_pattern": "MAV", "num_attention_heads": 2, "rwkv7_head_dim": 8, "rwkv7_decay_low_rank_dim": 2,
          "rwkv7_v_low_rank_dim": 2, "rwkv7_a_low_rank_dim": 2, "rwkv7_gate_low_rank_dim": 2})",
      3);
  return model;
}

// One window written out by hand: its input and, for each scored row, the token it predicts.
struct HandWindow {
  std::vector<std::int64_t> input;
  std::vector<std::pair<std::int64_t, std::int64_t>> rows;  // (row, target)
};

// The NLL sum of the hand-written windows, each through the model alone (float64 log-softmax).
double hand_nll(const std::vector<HandWindow>& windows, std::int64_t* scored) {
  double sum = 0;
  for (const HandWindow& w : windows) {
    const Tensor logits = toy_model().forward(Tensor::from_vector(w.input, {1, std::int64_t(w.input.size())}));
    for (const auto& [row, target] : w.rows) {
      const float* l = logits.data<float>() + row * 16;
      double max = l[0], z = 0;
      for (int v = 0; v < 16; ++v) max = std::max(max, double(l[v]));
      for (int v = 0; v < 16; ++v) z += std::exp(double(l[v]) - max);
      sum += std::log(z) + max - double(l[target]);
      ++*scored;
    }
  }
  return sum;
}

// Three documents of 5, 12 and 3 tokens: a = 0..4, b = 1..12 (mod 16, shuffled), c = 7 8 9.
const std::vector<std::int64_t> kA = {0, 1, 2, 3, 4}, kB = {5, 9, 1, 12, 3, 3, 8, 14, 2, 6, 11, 10}, kC = {7, 8, 9};

std::vector<Document> toy_documents(bool with_c = true) {
  std::vector<Document> d = {{"a", kA, 5, 1}, {"b", kB, 12, 1}};
  if (with_c) d.push_back({"c", kC, 3, 1});
  return d;
}

}  // namespace

TEST_CASE("scorer: the tiny Jamba reproduces its golden bits per byte on the held-out text", "[lm][scorer][long]") {
  // tests/data/tiny-jamba-moby/golden_eval.json: windows of 1024 bytes of Moby-Dick chapters 126-135
  // and the epilogue (tests/data/moby_dick_heldout.txt), each scored alone.
  const auto dir = source_dir() / "tests/data/tiny-jamba-moby";
  std::ifstream golden_file(dir / "golden_eval.json");
  const nlohmann::json golden = nlohmann::json::parse(golden_file);
  const LanguageModel model = LanguageModel::load(dir);
  ScoreOptions options;
  options.window = golden["window"].get<std::int64_t>();
  const ScoreResult r =
      score(model, {bytes_document(file_bytes(source_dir() / "tests/data/moby_dick_heldout.txt"))}, options).total;
  CHECK(r.tokens_scored == golden["tokens_scored"].get<std::int64_t>());
  CHECK(std::abs(r.bits_per_byte - golden["bits_per_byte"].get<double>()) < 1e-3);
  CHECK(std::abs(r.mean_nll_nats - golden["mean_nll_nats"].get<double>()) < 1e-3);
}

TEST_CASE("scorer: protocols on a short text", "[lm][scorer]") {
  const LanguageModel model = LanguageModel::load(source_dir() / "tests/data/tiny-jamba-moby");
  std::vector<std::int64_t> bytes = file_bytes(source_dir() / "tests/data/moby_dick_heldout.txt");
  bytes.resize(700);
  const std::vector<Document> text = {bytes_document(bytes)};
  ScoreOptions o;
  o.window = 256;
  CHECK(score(model, text, o).total.tokens_scored == 2 * 255);  // two whole windows, the rest dropped
  o.protocol = ScoreProtocol::Sliding;
  o.stride = 128;
  const ScoreResult sliding = score(model, text, o).total;
  CHECK(sliding.tokens_scored == 699);  // every token but the first, once
  o.protocol = ScoreProtocol::Stream;
  const ScoreResult stream = score(model, text, o).total;
  CHECK(stream.tokens_scored == 699);
  // Streaming carries all the context, sliding windows at least 128 tokens of it: the stream is
  // never worse than a fresh window per 256 tokens here.
  CHECK(stream.mean_nll_nats < sliding.mean_nll_nats + 0.05);
  // The loss by depth covers every scored position once, in buckets [1, 2), [2, 3), [3, 4), [4, 6) ...
  std::int64_t counted = 0;
  for (const DepthBucket& b : stream.nll_by_depth) counted += b.count;
  CHECK(counted == 699);
  REQUIRE(stream.nll_by_depth.size() >= 5);
  CHECK(stream.nll_by_depth[3].begin == 4);
  CHECK(stream.nll_by_depth[3].end == 6);
  CHECK(stream.nll_by_depth.back().begin == 512);
  CHECK(stream.nll_by_depth.back().end == 768);
  o.window = 1000;
  o.protocol = ScoreProtocol::Windows;
  CHECK_THROWS_WITH(score(model, text, o), Catch::Contains("text has 700 tokens, fewer than one window of 1000"));
}

TEST_CASE("scorer: the lm-eval protocol on three documents is the hand-written windows", "[lm][scorer]") {
  // lm-eval's get_rolling_token_windows(max_seq_len 4, context_len 1), P = the prefix token 15:
  //   a (5 tokens): [P a0 a1 a2] -> a0..a3; [a0 a1 a2 a3] -> a4 (row 3)
  //   b (12):       [P b0 b1 b2] -> b0..b3; [b3 b4 b5 b6] -> b4..b7; [b7 b8 b9 b10] -> b8..b11
  //   c (3):        [P c0 c1] -> c0..c2
  const std::int64_t P = 15;
  const auto all_rows = [](const std::vector<std::int64_t>& targets) {
    std::vector<std::pair<std::int64_t, std::int64_t>> rows;
    for (std::size_t r = 0; r < targets.size(); ++r) rows.emplace_back(std::int64_t(r), targets[r]);
    return rows;
  };
  const std::vector<HandWindow> a = {{{P, kA[0], kA[1], kA[2]}, all_rows({kA[0], kA[1], kA[2], kA[3]})},
                                     {{kA[0], kA[1], kA[2], kA[3]}, {{3, kA[4]}}}};
  const std::vector<HandWindow> b = {{{P, kB[0], kB[1], kB[2]}, all_rows({kB[0], kB[1], kB[2], kB[3]})},
                                     {{kB[3], kB[4], kB[5], kB[6]}, all_rows({kB[4], kB[5], kB[6], kB[7]})},
                                     {{kB[7], kB[8], kB[9], kB[10]}, all_rows({kB[8], kB[9], kB[10], kB[11]})}};
  const std::vector<HandWindow> c = {{{P, kC[0], kC[1]}, all_rows({kC[0], kC[1], kC[2]})}};
  ScoreOptions o;
  o.protocol = ScoreProtocol::LmEval;
  o.window = 4;
  o.prefix_token = P;
  o.batch = 1;  // the reference runs each window alone: the same calls, the same bits
  const DocumentScores s = score(toy_model(), toy_documents(), o);
  std::int64_t scored[3] = {};
  const double expected[3] = {hand_nll(a, &scored[0]), hand_nll(b, &scored[1]), hand_nll(c, &scored[2])};
  for (int d = 0; d < 3; ++d) {
    CHECK(s.documents[std::size_t(d)].tokens_scored == scored[d]);
    CHECK(std::abs(s.documents[std::size_t(d)].nll_sum_nats - expected[d]) < 1e-9);
  }
  CHECK(s.total.tokens_scored == 20);  // every token of every document, once
  CHECK(std::abs(s.total.nll_sum_nats - (expected[0] + expected[1] + expected[2])) < 1e-9);
  // Token-weighted: bits per byte is the summed NLL over the bytes (here one per token), words likewise.
  CHECK(std::abs(s.total.bits_per_byte - s.total.nll_sum_nats / 20 / std::log(2.0)) < 1e-12);
  CHECK(std::abs(s.total.word_perplexity - std::exp(s.total.nll_sum_nats / 3)) < 1e-9 * s.total.word_perplexity);
  CHECK(s.total.nll_by_depth.front().begin == 0);  // lm-eval scores each document's first token
  CHECK(s.total.nll_by_depth.front().count == 3);
  // Batched, the windows of all three documents (of lengths 4 and 3) share one packed call and
  // give each document its figures to float32 rounding.
  o.batch = 8;
  const DocumentScores batched = score(toy_model(), toy_documents(), o);
  for (int d = 0; d < 3; ++d) CHECK(std::abs(batched.documents[std::size_t(d)].nll_sum_nats - expected[d]) < 1e-4);
  o.prefix_token = -1;
  CHECK_THROWS_WITH(score(toy_model(), toy_documents(), o),
                    Catch::Contains("lm-eval protocol needs a prefix token in [0, 16)"));
}

TEST_CASE("scorer: the llama protocol on documents is the hand-written chunks", "[lm][scorer]") {
  // llama-perplexity with n_ctx 6 and BOS B = 14: the document after B, chunks of 6 with the
  // first token set to B, rows 3 and 4 scored (positions n_ctx/2 + 1 .. n_ctx - 1 of the chunk).
  //   a (5 tokens, 6 with B): [B a0 a1 a2 a3 a4] -> rows 3, 4 predict a3, a4
  //   b (12, 13 with B):      [B b0 .. b4] -> b3, b4; [B b6 .. b10] (b5 replaced) -> b9, b10
  const std::int64_t B = 14;
  const std::vector<HandWindow> hand = {{{B, kA[0], kA[1], kA[2], kA[3], kA[4]}, {{3, kA[3]}, {4, kA[4]}}},
                                        {{B, kB[0], kB[1], kB[2], kB[3], kB[4]}, {{3, kB[3]}, {4, kB[4]}}},
                                        {{B, kB[6], kB[7], kB[8], kB[9], kB[10]}, {{3, kB[9]}, {4, kB[10]}}}};
  ScoreOptions o;
  o.protocol = ScoreProtocol::Llama;
  o.window = 6;
  o.bos_token = B;
  o.batch = 1;
  const DocumentScores s = score(toy_model(), toy_documents(false), o);
  std::int64_t scored = 0;
  CHECK(std::abs(s.total.nll_sum_nats - hand_nll(hand, &scored)) < 1e-9);
  CHECK(s.total.tokens_scored == scored);
  CHECK(s.documents[1].tokens_scored == 4);
  // Without a BOS nothing is put in or replaced: b alone is [b0 .. b5] -> b4, b5; [b6 .. b11] -> b10, b11.
  o.bos_token = -1;
  const std::vector<HandWindow> plain = {{{kB[0], kB[1], kB[2], kB[3], kB[4], kB[5]}, {{3, kB[4]}, {4, kB[5]}}},
                                         {{kB[6], kB[7], kB[8], kB[9], kB[10], kB[11]}, {{3, kB[10]}, {4, kB[11]}}}};
  scored = 0;
  CHECK(std::abs(score(toy_model(), {{"b", kB, 12, 1}}, o).total.nll_sum_nats - hand_nll(plain, &scored)) < 1e-9);
  // A document shorter than one chunk is named.
  o.bos_token = B;
  CHECK_THROWS_WITH(score(toy_model(), toy_documents(), o),
                    Catch::Contains("c has 4 tokens with its BOS, fewer than one chunk of 6"));
}

TEST_CASE("scorer: lm-eval's word count splits at runs of Unicode whitespace", "[lm][scorer]") {
  CHECK(count_words("") == 1);  // re.split(r"\s+", "") == [""]
  CHECK(count_words("hello") == 1);
  CHECK(count_words("  two words\n") == 4);  // ["", "two", "words", ""]
  CHECK(count_words("a\t\r\n b") == 2);
  CHECK(count_words("no\u00a0break and\u3000ideographic") == 4);
  CHECK(count_words("caf\u00e9 \u2014 ok") == 3);  // é and the dash are not whitespace
}

TEST_CASE("scorer: a stop stops between forward calls with what was scored", "[lm][scorer]") {
  ScoreOptions o;
  o.window = 4;
  o.batch = 1;
  int calls = 0;
  o.stop = [&] { return ++calls > 2; };  // two windows, then stop
  const DocumentScores s = score(toy_model(), toy_documents(false), o);
  CHECK(s.stopped);
  CHECK(s.total.tokens_scored == 2 * 3);  // positions 1..3 of two windows
  REQUIRE(s.documents.size() == 2);       // a's window, then b's first: both begun
  CHECK(s.documents[1].tokens_scored == 3);
  o.stop = nullptr;
  CHECK(!score(toy_model(), toy_documents(false), o).stopped);
}

TEST_CASE("scorer: an id outside the vocabulary is an error even where no window reads it", "[lm][scorer]") {
  // Windows of 4 over 6 tokens read tokens 0..3; the bad id is in the dropped tail.
  ScoreOptions o;
  o.window = 4;
  CHECK_THROWS_WITH(score(toy_model(), {{"tail", {1, 2, 3, 4, 5, 99}, 6, 1}}, o),
                    Catch::Contains("score: tail: token id 99 at position 5 is outside the vocabulary [0, 16)"));
  CHECK_THROWS_WITH(score(toy_model(), {{"negative", {1, -2, 3, 4}, 4, 1}}, o),
                    Catch::Contains("token id -2 at position 1"));
}

TEST_CASE("scorer: a NaN weight stops the run at the first position, naming it", "[lm][scorer]") {
  const fs::path dir = fs::temp_directory_path() / "subq_test_nan_weight";
  fs::remove_all(dir);
  LanguageModel::random(R"({"model_type": "subq_hybrid", "vocab_size": 16, "hidden_size": 16, "intermediate_size": 16,
                            "layer_pattern": "M"})",
                        2, dir);
  std::vector<std::pair<std::string, Tensor>> tensors;
  {
    const SafetensorsFile file = SafetensorsFile::open(dir / "model.safetensors");
    for (const std::string& name : file.names()) tensors.emplace_back(name, file.get(name).clone());
  }
  for (auto& [name, t] : tensors)
    if (name.find("norm") != std::string::npos) t.data<float>()[0] = std::numeric_limits<float>::quiet_NaN();
  save_safetensors(dir / "model.safetensors", tensors);
  const LanguageModel model = LanguageModel::load(dir);
  ScoreOptions o;
  o.window = 4;
  CHECK_THROWS_WITH(score(model, toy_documents(false), o),
                    Catch::Contains("score: a, window 0, position 1: the logits are not finite"));
  o.allow_nonfinite = true;
  o.protocol = ScoreProtocol::Stream;
  const ScoreResult r = score(model, toy_documents(), o).total;
  CHECK(r.nonfinite_positions == 4 + 11 + 2);
  CHECK(r.tokens_scored == 0);
}
