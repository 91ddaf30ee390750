// Uses the installed library: a scan with a known answer, and a small random hybrid model that
// must produce finite logits and decode as it scores.
#include <subq/subq.hpp>

#include <cmath>
#include <cstdio>

int main() {
  using namespace subq;
  const Tensor a = Tensor::from_vector(std::vector<float>{0.5f, 0.5f, 0.5f}, {1, 1, 3});
  const Tensor b = Tensor::from_vector(std::vector<float>{1.0f, 1.0f, 1.0f}, {1, 1, 3});
  const auto result = scan::linear_recurrence(a, b);
  const float last = result.h.data<float>()[2];  // 1, 1.5, 1.75
  std::printf("consumer: h = %g %g %g\n", result.h.data<float>()[0], result.h.data<float>()[1], last);
  if (last != 1.75f) return 1;

  const LanguageModel model = LanguageModel::random(R"({"model_type": "subq_hybrid", "vocab_size": 256,
      "hidden_size": 32, "intermediate_size": 64, "layer_pattern": "MA", "num_attention_heads": 2,
      "mamba_d_state": 4, "mamba_dt_rank": 2})", 1);
  const Tensor ids = Tensor::from_vector(std::vector<std::int64_t>{1, 2, 3, 4}, {1, 4});
  const Tensor logits = model.forward(ids);
  ModelCache cache;
  model.forward(ids.slice(1, 0, 3).contiguous(), &cache);
  const Tensor next = model.step(Tensor::from_vector(std::vector<std::int64_t>{4}, {1}), cache);
  const float want = logits.data<float>()[3 * 256], got = next.data<float>()[0];
  std::printf("consumer: %s model, logit %g decoded %g\n", model.architecture().c_str(), want, got);
  return std::isfinite(want) && std::abs(want - got) < 1e-4f ? 0 : 1;
}
