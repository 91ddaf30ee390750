#include <catch2/catch.hpp>
#include <cmath>

#include "lm/generator.hpp"
#include "tests/source_dir.hpp"

using namespace subq;

TEST_CASE("sampling: greedy, top-k, top-p and seeds", "[lm][generate]") {
  const std::vector<float> logits = {0.0f, 3.0f, 2.9f, -5.0f, 1.0f};
  std::uint64_t state = 1;
  CHECK(sample_token(logits.data(), 5, {0.0, 0, 1.0, 0}, state) == 1);
  // top_k = 2 keeps tokens 1 and 2 only; top_p = 0.01 keeps the most likely token only.
  for (std::uint64_t seed = 0; seed < 50; ++seed) {
    state = seed;
    const std::int64_t t = sample_token(logits.data(), 5, {1.0, 2, 1.0, seed}, state);
    CHECK((t == 1 || t == 2));
    CHECK(sample_token(logits.data(), 5, {1.0, 0, 0.01, seed}, state) == 1);
  }
  // The same seed gives the same draw; a high temperature reaches the unlikely tokens.
  std::uint64_t a = 7, b = 7;
  CHECK(sample_token(logits.data(), 5, {1.0, 0, 1.0, 7}, a) == sample_token(logits.data(), 5, {1.0, 0, 1.0, 7}, b));
  int seen_unlikely = 0;
  for (std::uint64_t seed = 0; seed < 200; ++seed) {
    state = seed;
    seen_unlikely += sample_token(logits.data(), 5, {100.0, 0, 1.0, seed}, state) == 3;
  }
  CHECK(seen_unlikely > 0);
}

TEST_CASE("sampling: ties go to the smaller id, and a NaN logit is named", "[lm][generate]") {
  const std::vector<float> tied = {1.0f, 2.0f, 2.0f, 0.5f};
  std::uint64_t state = 3;
  // top_k = 1 keeps the first of the two most likely: token 1.
  for (std::uint64_t seed = 0; seed < 20; ++seed) CHECK(sample_token(tied.data(), 4, {1.0, 1, 1.0, seed}, state) == 1);
  const std::vector<float> broken = {1.0f, NAN, 0.0f};
  CHECK_THROWS_WITH(sample_token(broken.data(), 3, {1.0, 0, 1.0, 1}, state), Catch::Contains("token 1 is NaN"));
}

TEST_CASE("generate: greedy continuation follows the model's own argmax", "[lm][generate]") {
  const LanguageModel model = LanguageModel::load(source_dir() / "tests/data/tiny-jamba-moby");
  const std::string text = "The whale";
  const std::vector<std::int64_t> prompt(text.begin(), text.end());
  std::vector<std::int64_t> streamed;
  const std::vector<std::int64_t> out =
      generate(model, prompt, 12, {0.0, 0, 1.0, 0}, [&](std::int64_t t) { streamed.push_back(t); });
  REQUIRE(out.size() == 12);
  CHECK(streamed == out);
  // Re-scoring prompt + output in one pass: every generated token is the argmax before it.
  std::vector<std::int64_t> all = prompt;
  all.insert(all.end(), out.begin(), out.end());
  const Tensor logits = model.forward(Tensor::from_vector(all, {1, std::int64_t(all.size())}));
  for (std::size_t i = 0; i < out.size(); ++i) {
    const float* row = logits.data<float>() + (prompt.size() + i - 1) * 256;
    CHECK(std::max_element(row, row + 256) - row == out[i]);
  }
}
