// Every mixer of the hybrid stack's table, built by its factory with fresh weights: a prompt run
// in parallel into a fresh state, then the rest one token at a time, gives the outputs of the
// whole sequence in one call. A new mixer's row in the table is tested here without more code.
#include <catch2/catch.hpp>
#include <fstream>
#include <random>
#include <sstream>

#include "core/config.hpp"
#include "lm/hybrid_stack.hpp"
#include "lm/initialization.hpp"
#include "tests/source_dir.hpp"
#include "tests/testing.hpp"

using namespace subq;
using subq::testing::max_rel_diff;
using subq::testing::random_tensor;

namespace {

// The sizes of examples/hybrid_all_mixers.json, which names every mixer's keys.
JsonConfig all_mixers_config() {
  std::ifstream in(source_dir() / "examples/hybrid_all_mixers.json");
  std::stringstream text;
  text << in.rdbuf();
  return JsonConfig::parse(text.str(), "hybrid_all_mixers.json");
}

// x's tokens [from, to) through the mixer, continuing `state`; v_first: the values a first
// RWKV-7 layer would have given for all of x (the others ignore them).
Tensor run(const Mixer& mixer, const Tensor& x, const Tensor& v_first, std::int64_t from, std::int64_t to,
           MixerState* state) {
  MixerContext context{from, v_first.slice(1, from, to).contiguous()};
  return mixer.forward(x.slice(1, from, to).contiguous(), state, context);
}

}  // namespace

TEST_CASE("mixers: every mixer of the table decodes token by token as it runs the whole sequence", "[lm][mixer]") {
  const JsonConfig config = all_mixers_config();
  const std::int64_t H = config.get_int("hidden_size"), B = 2, L = 21;
  std::mt19937 rng(4);
  const Tensor x = random_tensor({B, L, H}, DType::F32, rng, -1, 1);
  const Tensor v_first = random_tensor({B, L, H}, DType::F32, rng, -1, 1);
  for (const lm::MixerKind& kind : lm::mixer_kinds())
    for (const bool first : {true, false}) {
      INFO(kind.name << (first ? ", the stack's first of its kind" : ", a later one"));
      Checkpoint checkpoint = Checkpoint::generated(config, lm::initial_weights(5));
      const std::unique_ptr<Mixer> mixer = kind.make(checkpoint, {config, kind.prefix, H, 1e-6, first});
      const Tensor whole = run(*mixer, x, v_first, 0, L, nullptr);
      REQUIRE(whole.shape() == x.shape());
      // Prompts of one token, within, at and across Mamba-2's chunks of 16.
      for (const std::int64_t prompt : {1, 7, 16, 17}) {
        INFO("prompt " << prompt);
        MixerState state;
        CHECK(max_rel_diff(run(*mixer, x, v_first, 0, prompt, &state), whole.slice(1, 0, prompt)) < 1e-5);
        for (std::int64_t t = prompt; t < L; ++t) {
          INFO("token " << t);
          CHECK(max_rel_diff(run(*mixer, x, v_first, t, t + 1, &state), whole.slice(1, t, t + 1)) < 1e-5);
        }
        // Local attention's cache stays within a few windows (here 5 keys), however long the stream.
        if (kind.letter == 'O') CHECK(state[0].size(1) <= 4 * (config.get_int("local_attention_window") - 1));
      }
    }
}
