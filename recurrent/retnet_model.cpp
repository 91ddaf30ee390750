#include "recurrent/retnet_model.hpp"

#include <cmath>

#include "core/check.hpp"
#include "core/checkpoint.hpp"
#include "core/dense.hpp"
#include "core/math.hpp"
#include "recurrent/retention.hpp"

namespace subq::recurrent {

namespace {

struct Config {
  std::int64_t vocab, hidden, heads, key_dim, value_dim, layers;
  double eps;
  bool output_gate, tie_embeddings;
};

Config read_config(const JsonConfig& c) {
  const std::string& src = c.source();
  auto refuse = [&](const char* key, bool unsupported, const char* why) {
    SUBQ_CHECK(!unsupported, "{}: {}: {} is not supported", src, key, why);
  };
  refuse("attn", !c.is_null("attn"), "hybrid attention layers");
  refuse("use_short_conv", c.get_bool("use_short_conv", false), "a short convolution on q, k, v");
  refuse("feature_map", !c.is_null("feature_map"), "a feature map on q and k");
  refuse("hidden_act", c.get_string("hidden_act", "swish") != "swish", "a gate other than swish");
  const std::int64_t hidden = c.get_int("hidden_size"), heads = c.get_int("num_heads");
  SUBQ_CHECK(c.get_int("num_kv_heads", heads) == heads, "{}: num_kv_heads: grouped keys are not supported", src);
  const double key_dim = double(hidden) * c.get_double("expand_k", 1.0), value_dim = double(hidden) * c.get_double("expand_v", 2.0);
  SUBQ_CHECK(std::floor(key_dim) == key_dim && std::floor(value_dim) == value_dim && std::int64_t(key_dim) % heads == 0 &&
                 std::int64_t(value_dim) % heads == 0,
             "{}: hidden_size * expand_k and * expand_v must be whole multiples of num_heads", src);
  return {c.get_int("vocab_size"), hidden, heads, std::int64_t(key_dim), std::int64_t(value_dim),
          c.get_int("num_hidden_layers"), c.get_double("norm_eps"), c.get_bool("use_output_gate", true),
          c.get_bool("tie_word_embeddings", false)};
}

struct LayerWeights {
  Tensor attn_norm, q, k, v, g, g_norm, o, mlp_norm, gate, up, down;
};

LayerWeights load_layer(Checkpoint& ck, const Config& c, int i) {
  auto take = [&](const std::string& name, const Shape& shape) {
    return ck.take(fmt::format("model.layers.{}.{}", i, name), shape);
  };
  const std::int64_t H = c.hidden;
  LayerWeights w;
  w.attn_norm = take("attn_norm.weight", {H});
  w.q = take("attn.q_proj.weight", {c.key_dim, H});
  w.k = take("attn.k_proj.weight", {c.key_dim, H});
  w.v = take("attn.v_proj.weight", {c.value_dim, H});
  if (c.output_gate) w.g = take("attn.g_proj.weight", {c.value_dim, H});
  w.g_norm = take("attn.g_norm.weight", {c.value_dim / c.heads});
  w.o = take("attn.o_proj.weight", {H, c.value_dim});
  w.mlp_norm = take("mlp_norm.weight", {H});
  // The MLP width is the checkpoint's: fla derives it from hidden_ratio, rounded to 256.
  const std::string gate = fmt::format("model.layers.{}.mlp.gate_proj.weight", i);
  const std::int64_t F = ck.shape(gate).empty() ? 0 : ck.shape(gate)[0];
  w.gate = take("mlp.gate_proj.weight", {F, H});
  w.up = take("mlp.up_proj.weight", {F, H});
  w.down = take("mlp.down_proj.weight", {H, F});
  return w;
}

Tensor swish_product(Tensor a, const Tensor& b) {  // silu(a) * b, in place in a
  for (std::int64_t i = 0; i < a.numel(); ++i) a.data<float>()[i] = silu(a.data<float>()[i]) * b.data<float>()[i];
  return a;
}

}  // namespace

struct RetNetModel::Impl {
  Config config;
  Tensor embeddings, norm, lm_head;
  std::vector<LayerWeights> layers;

  Tensor retention_block(const LayerWeights& w, const Tensor& x, RetNetCache* cache, std::size_t i,
                         std::int64_t position) const {
    const std::int64_t B = x.size(0), L = x.size(1), heads = config.heads, dk = config.key_dim / heads,
                       dv = config.value_dim / heads;
    const Tensor q = rotary(linear(x, w.q).view({B, L, heads, dk}), position);
    const Tensor k = rotary(linear(x, w.k).view({B, L, heads, dk}), position);
    const Tensor v = linear(x, w.v).view({B, L, heads, dv});
    const RetentionResult r = retention(q, k, v, cache ? cache->state[i] : Tensor{});
    if (cache) cache->state[i] = r.final_state;
    Tensor o = rms_norm(r.o, w.g_norm, config.eps).view({B, L, config.value_dim});
    if (config.output_gate) o = swish_product(linear(x, w.g), o);
    return linear(o, w.o);
  }
};

RetNetModel::RetNetModel(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RetNetModel::~RetNetModel() = default;
RetNetModel::RetNetModel(RetNetModel&&) noexcept = default;
RetNetModel& RetNetModel::operator=(RetNetModel&&) noexcept = default;

RetNetModel RetNetModel::load(const std::filesystem::path& dir) {
  Checkpoint ck = Checkpoint::open(dir);
  const std::string type = ck.config().get_string("model_type");
  SUBQ_CHECK(type == "retnet", "{}: model_type '{}': expected retnet", ck.config().source(), type);
  auto impl = std::make_unique<Impl>();
  const Config& c = impl->config = read_config(ck.config());
  impl->embeddings = ck.take("model.embeddings.weight", {c.vocab, c.hidden});
  for (int i = 0; i < c.layers; ++i) impl->layers.push_back(load_layer(ck, c, i));
  impl->norm = ck.take("model.norm.weight", {c.hidden});
  const bool stored_head = ck.contains("lm_head.weight") || !c.tie_embeddings;
  const Tensor head = stored_head ? ck.take("lm_head.weight", {c.vocab, c.hidden}) : Tensor{};
  impl->lm_head = c.tie_embeddings ? impl->embeddings : head;
  ck.finish();
  return RetNetModel(std::move(impl));
}

std::int64_t RetNetModel::vocab_size() const { return impl_->config.vocab; }

Tensor RetNetModel::forward(const Tensor& input_ids, RetNetCache* cache) const {
  SUBQ_CHECK(input_ids.defined() && input_ids.dim() == 2 && input_ids.dtype() == DType::I64,
             "RetNetModel: input_ids: expected (batch, length) int64");
  const Config& c = impl_->config;
  if (cache && cache->empty()) cache->state.resize(std::size_t(c.layers));
  const std::int64_t position = cache ? cache->position : 0;
  Tensor h = embedding(impl_->embeddings, input_ids);
  for (std::size_t i = 0; i < impl_->layers.size(); ++i) {
    const LayerWeights& w = impl_->layers[i];
    const Tensor attn = impl_->retention_block(w, rms_norm(h, w.attn_norm, c.eps), cache, i, position);
    for (std::int64_t j = 0; j < h.numel(); ++j) h.data<float>()[j] += attn.data<float>()[j];
    const Tensor x = rms_norm(h, w.mlp_norm, c.eps);
    const Tensor mlp = linear(swish_product(linear(x, w.gate), linear(x, w.up)), w.down);
    for (std::int64_t j = 0; j < h.numel(); ++j) h.data<float>()[j] += mlp.data<float>()[j];
  }
  if (cache) cache->position += input_ids.size(1);
  return linear(rms_norm(h, impl_->norm, c.eps), impl_->lm_head);
}

Tensor RetNetModel::step(const Tensor& input_ids, RetNetCache& cache) const {
  SUBQ_CHECK(input_ids.defined() && input_ids.dim() == 1, "RetNetModel::step: input_ids: expected (batch), found {}",
             input_ids.defined() ? to_string(input_ids.shape()) : "nothing");
  const std::int64_t batch = input_ids.size(0);
  return forward(input_ids.contiguous().view({batch, 1}), &cache).view({batch, vocab_size()});
}

}  // namespace subq::recurrent
