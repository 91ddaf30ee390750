#include "lm/fla_stack.hpp"

#include "core/check.hpp"
#include "core/dense.hpp"

namespace subq::lm {

void refuse_fla_option(const JsonConfig& c, const char* key, bool unsupported, const char* what) {
  SUBQ_CHECK(!unsupported, "{}: {}: {} is not supported", c.source(), key, what);
}

FlaSizes read_fla_sizes(const JsonConfig& c) {
  refuse_fla_option(c, "attn", !c.is_null("attn"), "hybrid attention layers");
  refuse_fla_option(c, "hidden_act", c.get_string("hidden_act", "swish") != "swish", "an MLP gate other than swish");
  const std::int64_t hidden = c.get_int("hidden_size");
  // The MLP's width: intermediate_size, or as fla's GatedMLP makes it, 2/3 of hidden_ratio (4) x
  // hidden_size, rounded up to a multiple of 256.
  const std::int64_t mlp =
      c.is_null("intermediate_size")
          ? (std::int64_t(double(hidden) * c.get_double("hidden_ratio", 4) * 2 / 3) + 255) / 256 * 256
          : c.get_int("intermediate_size");
  return {c.get_int("vocab_size"),
          hidden,
          mlp,
          c.get_int("num_hidden_layers"),
          c.get_double("norm_eps"),
          c.get_bool("tie_word_embeddings", false)};
}

Stack fla_stack(Checkpoint& ck, const FlaSizes& sizes,
                const std::function<std::unique_ptr<Mixer>(const std::string& prefix)>& make_mixer) {
  const std::int64_t H = sizes.hidden;
  auto load_layer = [&](std::int64_t i) {
    const std::string p = fmt::format("model.layers.{}.", i);
    Block b;
    b.mixer_norm = Norm::rms(ck, p + "attn_norm.", H, sizes.eps);
    b.mixer = make_mixer(p + "attn.");
    b.feed_forward_norm = Norm::rms(ck, p + "mlp_norm.", H, sizes.eps);
    b.feed_forward = [mlp = load_swiglu(ck, p + "mlp.", H, sizes.mlp)](const Tensor& x, MixerState*) {
      return swiglu(x, mlp);
    };
    return b;
  };
  return load_stack(ck,
                    {"model.embeddings.weight", "lm_head.weight", sizes.vocab, H, sizes.layers, sizes.tie_embeddings},
                    load_layer, [&] { return Norm::rms(ck, "model.norm.", H, sizes.eps); });
}

}  // namespace subq::lm
