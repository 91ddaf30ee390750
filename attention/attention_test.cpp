#include <catch2/catch.hpp>
#include <cmath>
#include <random>

#include "attention/attention.hpp"
#include "tests/testing.hpp"

using namespace subq;
using namespace subq::attention;
using subq::testing::max_rel_diff;
using subq::testing::non_finite_count;
using subq::testing::random_tensor;

TEST_CASE("attention: the tiled online softmax equals the plain definition", "[attention]") {
  std::mt19937 rng(1);
  // Lengths around the 128-query and 128-key tiles, with and without cached keys, grouped heads.
  for (const std::int64_t L : {1, 7, 127, 128, 129, 300})
    for (const std::int64_t past : {0, 5, 130})
      for (const std::int64_t kv_heads : {1, 2, 4}) {
        const Tensor q = random_tensor({2, L, 4, 8}, DType::F32, rng, -2, 2);
        const Tensor k = random_tensor({2, past + L, kv_heads, 8}, DType::F32, rng, -2, 2);
        const Tensor v = random_tensor({2, past + L, kv_heads, 8}, DType::F32, rng, -1, 1);
        INFO("L " << L << " past " << past << " kv_heads " << kv_heads);
        CHECK(max_rel_diff(causal_attention(q, k, v, 0.35), causal_attention_reference(q, k, v, 0.35)) < 1e-5);
      }
}

TEST_CASE("attention: a sliding window equals the plain definition's band of keys", "[attention]") {
  std::mt19937 rng(3);
  // Windows of one key, within a tile, across the 128-key tiles and beyond the length, with cached keys.
  for (const std::int64_t window : {1, 5, 128, 200, 1000})
    for (const std::int64_t L : {1, 130, 300})
      for (const std::int64_t past : {0, 140}) {
        const Tensor q = random_tensor({1, L, 4, 8}, DType::F32, rng, -2, 2);
        const Tensor k = random_tensor({1, past + L, 2, 8}, DType::F32, rng, -2, 2);
        const Tensor v = random_tensor({1, past + L, 2, 8}, DType::F32, rng, -1, 1);
        INFO("window " << window << " L " << L << " past " << past);
        const Tensor want = causal_attention_reference(q, k, v, 0.35, window);
        CHECK(max_rel_diff(causal_attention(q, k, v, 0.35, window), want) < 1e-5);
      }
  // The band itself: with W = 1 each query sees only its own key, so o[t] = v[t].
  const Tensor q = random_tensor({1, 9, 2, 4}, DType::F32, rng, -2, 2),
               k = random_tensor({1, 9, 2, 4}, DType::F32, rng, -2, 2);
  const Tensor v = random_tensor({1, 9, 2, 4}, DType::F32, rng, -1, 1);
  CHECK(max_rel_diff(causal_attention_reference(q, k, v, 1.0, 1), v) < 1e-6);
  // And W >= every key's distance is plain causal attention.
  CHECK(max_rel_diff(causal_attention_reference(q, k, v, 1.0, 9), causal_attention_reference(q, k, v, 1.0)) == 0);
  CHECK_THROWS_WITH(causal_attention(q, k, v, 1.0, -1),
                    Catch::Contains("window: expected W >= 1 keys, or 0 for all, found -1"));
}

TEST_CASE("attention: a sliding window stays finite over 100K queries", "[attention][long]") {
  std::mt19937 rng(9);
  const std::int64_t L = 100000;
  const Tensor q = random_tensor({1, L, 2, 8}, DType::F32, rng, -4, 4),
               k = random_tensor({1, L, 1, 8}, DType::F32, rng, -4, 4);
  const Tensor o = causal_attention(q, k, random_tensor({1, L, 1, 8}, DType::F32, rng, -1, 1), 0.35, 64);
  CHECK(non_finite_count(o) == 0);
}

TEST_CASE("attention: keys and values read in place from a longer buffer, batch rows apart", "[attention]") {
  std::mt19937 rng(11);
  // The first 30 of a buffer's 48 steps, as the KV cache holds them, and a transposed q.
  const Tensor q = random_tensor({3, 4, 6, 16}, DType::F32, rng, -2, 2).transpose(1, 2);
  const Tensor k = random_tensor({3, 48, 2, 16}, DType::F32, rng, -2, 2), v = random_tensor({3, 48, 2, 16}, DType::F32, rng, -1, 1);
  const Tensor want = causal_attention_reference(q, k.slice(1, 0, 30).contiguous(), v.slice(1, 0, 30).contiguous(), 0.25);
  CHECK(max_rel_diff(causal_attention(q, k.slice(1, 0, 30), v.slice(1, 0, 30), 0.25), want) < 1e-5);
}

TEST_CASE("attention: large scores do not overflow", "[attention]") {
  std::mt19937 rng(2);
  const Tensor q = random_tensor({1, 200, 2, 16}, DType::F32, rng, -50, 50), k = random_tensor({1, 200, 2, 16}, DType::F32, rng, -50, 50),
               v = random_tensor({1, 200, 2, 16}, DType::F32, rng, -1, 1);
  const Tensor o = causal_attention(q, k, v, 1.0);
  CHECK(non_finite_count(o) == 0);
  CHECK(max_rel_diff(o, causal_attention_reference(q, k, v, 1.0)) < 1e-4);
}

TEST_CASE("attention: bad shapes name the tensor", "[attention]") {
  const Tensor q = Tensor::zeros({1, 4, 4, 8}, DType::F32);
  CHECK_THROWS_WITH(causal_attention(q, Tensor::zeros({1, 4, 3, 8}, DType::F32), Tensor::zeros({1, 4, 3, 8}, DType::F32), 1),
                    Catch::Contains("3 kv heads do not divide 4 heads"));
  CHECK_THROWS_WITH(causal_attention(q, Tensor::zeros({1, 3, 2, 8}, DType::F32), Tensor::zeros({1, 3, 2, 8}, DType::F32), 1),
                    Catch::Contains("k: expected (1, keys >= 4, kv_heads, 8)"));
}

namespace {

struct AttentionShape {
  std::int64_t batch, L, past, heads, kv_heads, d;  // past: cached keys before the L queries
  std::int64_t window = 0;
};

// CUDA against the plain definition on random inputs of one shape.
void check_cuda_attention(const AttentionShape& s, std::mt19937& rng) {
  INFO("batch " << s.batch << " L " << s.L << " past " << s.past << " heads " << s.heads << " kv_heads " << s.kv_heads
                << " d " << s.d << " window " << s.window);
  const Tensor q = random_tensor({s.batch, s.L, s.heads, s.d}, DType::F32, rng, -2, 2);
  const Tensor k = random_tensor({s.batch, s.past + s.L, s.kv_heads, s.d}, DType::F32, rng, -2, 2);
  const Tensor v = random_tensor({s.batch, s.past + s.L, s.kv_heads, s.d}, DType::F32, rng, -1, 1);
  const double scale = 1.0 / std::sqrt(double(s.d));
  const Tensor got =
      causal_attention(q.to(Device::cuda()), k.to(Device::cuda()), v.to(Device::cuda()), scale, s.window);
  REQUIRE(got.device().is_cuda());
  CHECK(max_rel_diff(got, causal_attention_reference(q, k, v, scale, s.window)) < 1e-5);
}

}  // namespace

TEST_CASE("attention: CUDA equals the CPU across head sizes, lengths, cached keys and grouped heads",
          "[attention][cuda]") {
  SUBQ_SKIP_WITHOUT_CUDA();
  std::mt19937 rng(4);
  // Head sizes across the kernel's three tile shapes (d <= 64, 128, 256) and between them;
  // lengths around their 32- and 16-query tiles, with and without cached keys.
  for (const AttentionShape s : {AttentionShape{2, 33, 0, 4, 2, 8}, AttentionShape{2, 1, 0, 4, 1, 64},
                                 AttentionShape{2, 100, 5, 4, 2, 64}, AttentionShape{2, 1, 64, 4, 4, 64},
                                 AttentionShape{2, 40, 17, 4, 1, 100}, AttentionShape{2, 33, 0, 4, 4, 128},
                                 AttentionShape{2, 17, 3, 4, 2, 200}, AttentionShape{2, 20, 9, 4, 1, 256}})
    check_cuda_attention(s, rng);
}

TEST_CASE("attention: CUDA splits long key ranges across blocks and merges them as the CPU's softmax",
          "[attention][cuda]") {
  SUBQ_SKIP_WITHOUT_CUDA();
  std::mt19937 rng(6);
  // Few query tiles against many keys: decoding one token, a few tokens, and a prefill whose early
  // query tiles see no key of the later ranges.
  for (const AttentionShape s : {AttentionShape{1, 1, 1000, 2, 1, 128}, AttentionShape{1, 3, 500, 1, 1, 64},
                                 AttentionShape{1, 200, 0, 1, 1, 200}})
    check_cuda_attention(s, rng);
}

TEST_CASE("attention: CUDA's sliding window equals the CPU's, within tiles, across them and across key splits",
          "[attention][cuda]") {
  SUBQ_SKIP_WITHOUT_CUDA();
  std::mt19937 rng(8);
  for (const AttentionShape s : {AttentionShape{2, 70, 0, 4, 2, 16, 1}, AttentionShape{2, 70, 0, 4, 2, 16, 20},
                                 AttentionShape{1, 100, 30, 4, 1, 128, 33}, AttentionShape{1, 1, 1000, 2, 1, 64, 100},
                                 AttentionShape{1, 3, 500, 1, 1, 64, 450}, AttentionShape{1, 50, 0, 2, 2, 200, 64}})
    check_cuda_attention(s, rng);
}

TEST_CASE("attention: CUDA reads a KV cache's buffer in place and refuses what it cannot take", "[attention][cuda]") {
  SUBQ_SKIP_WITHOUT_CUDA();
  std::mt19937 rng(5);
  // Keys and values as the first 30 of a buffer's 48 steps: batch rows 48 steps apart.
  const Tensor q = random_tensor({3, 6, 4, 16}, DType::F32, rng, -2, 2);
  const Tensor k = random_tensor({3, 48, 2, 16}, DType::F32, rng, -2, 2), v = random_tensor({3, 48, 2, 16}, DType::F32, rng, -1, 1);
  const Tensor want = causal_attention_reference(q, k.slice(1, 0, 30), v.slice(1, 0, 30), 0.25);
  const Tensor k_gpu = k.to(Device::cuda()), v_gpu = v.to(Device::cuda());
  CHECK(max_rel_diff(causal_attention(q.to(Device::cuda()), k_gpu.slice(1, 0, 30), v_gpu.slice(1, 0, 30), 0.25), want) < 1e-5);
  // A value tensor laid out unlike the keys is copied to their layout.
  CHECK(max_rel_diff(causal_attention(q.to(Device::cuda()), k_gpu.slice(1, 0, 30), v.slice(1, 0, 30).contiguous().to(Device::cuda()), 0.25),
                     want) < 1e-5);
  CHECK_THROWS_WITH(causal_attention(q.to(Device::cuda()), k_gpu.slice(1, 0, 30), v.slice(1, 0, 30), 0.25),
                    Catch::Contains("causal_attention: v is on cpu, the input on cuda:0"));
  const Tensor wide = Tensor::zeros({1, 2, 1, 300}, DType::F32, Device::cuda());
  CHECK_THROWS_WITH(causal_attention(wide, wide, wide, 1.0), Catch::Contains("head size 300 is above the CUDA kernel's 256"));
}
