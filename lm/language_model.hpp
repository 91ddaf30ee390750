#pragma once
// A causal language model from a checkpoint folder (config.json + model.safetensors or shards),
// whatever its architecture: config.json's model_type picks it.
//   mamba     Hugging Face MambaForCausalLM        rwkv    Hugging Face RwkvForCausalLM (RWKV-4)
//   mamba2    Hugging Face Mamba2ForCausalLM       rwkv6   fla RWKV6ForCausalLM
//   jamba     Hugging Face JambaForCausalLM        rwkv7   fla RWKV7ForCausalLM
//   retnet    fla RetNetForCausalLM                subq_hybrid  any stack of the library's mixers
//                                                               (lm/hybrid_stack.cpp)
// Each carries its state between calls (ModelCache): constant in size for the recurrent layers,
// keys and values for attention layers. A prompt runs in parallel, then generation continues
// one token at a time.
// Computes in float32, on the CPU or on CUDA; the weight matrices may be held in bfloat16, float16
// or the q8_0 / q4_0 block formats (LoadOptions).
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "../core/device.hpp"
#include "../core/mixer.hpp"
#include "../core/tensor.hpp"

namespace subq {

namespace lm {
class Stack;
}
namespace dist {
class Communicator;
}

/// What a model carries from one call to the next for a batch of sequences. Opaque: pass the
/// same cache back to the model that filled it.
struct ModelCache {
  struct Layer {
    MixerState mixer, feed_forward;  // the feed-forward's: RWKV's channel mix shifts a token
  };
  std::vector<Layer> layers;  // sized by the model on first use
  std::int64_t position = 0;  // tokens seen so far
  bool empty() const { return layers.empty(); }
  /// A deep copy: to continue the same sequences along several branches (e.g. candidate answers).
  ModelCache clone() const {
    ModelCache copy{{}, position};
    for (const Layer& l : layers) copy.layers.push_back({l.mixer.clone(), l.feed_forward.clone()});
    return copy;
  }
};

/// How load() holds the weights.
struct LoadOptions {
  /// The weight matrices' format in memory: float32, bfloat16, float16, q8_0 or q4_0, on the CPU
  /// or CUDA; std::nullopt keeps each as the checkpoint stores it, zero-copy from the file's
  /// mapping on the CPU. The matrices are the projections, MLPs, experts, embeddings and head;
  /// everything else (A_log, D, dt_bias, convolution weights, norms, decays, routers, LoRAs and
  /// RWKV's time-mix vectors) stays float32 whatever this says: those tensors are small, and the
  /// recurrences that read them compound their rounding at every step, as llama.cpp's quantiser
  /// keeps them in float for. Activations, states, the scan and the softmax are float32 always.
  std::optional<DType> weights = DType::F32;
  /// The most bytes the weights may take: a checkpoint whose tensors (as their headers say, in
  /// the format above) would need more is refused before anything is read, with the estimate;
  /// a generated one (random()) at the first tensor that crosses it. std::nullopt: what
  /// available_memory_bytes() says when the load starts (no limit where that is unknown).
  std::optional<std::int64_t> max_memory;
};

/// Writes the checkpoint at dir to out (an existing checkpoint there is replaced) with its weight
/// matrices in `weights` (float32, bfloat16, float16, q8_0 or q4_0; LoadOptions says which tensors
/// those are), every other tensor as stored, and the folder's other files (tokenizer.json, ...)
/// copied. A q format is written as codes and float16 scales, with config.json's
/// quantization_config naming the scheme (README, "Weight formats"). Returns the bytes of the
/// weights written.
std::int64_t convert_checkpoint(const std::filesystem::path& dir, const std::filesystem::path& out, DType weights);

/// Thread safety: a model does not change after load(), so several threads may call forward,
/// forward_packed, prefill, step (and score, generate) on one model at once, each with its own
/// ModelCache; a cache belongs to one call at a time. The calls share the global thread pool,
/// whose loops run one at a time (lm/concurrency_test.cpp checks the results bit for bit).
class LanguageModel {
 public:
  /// Reads dir/config.json and the weights onto device; a tensor that is missing, of the wrong
  /// shape, or left over is an error naming it, as is a config option the library does not
  /// implement. On CUDA every model_type runs (weights and states on the GPU, logits returned to
  /// the CPU).
  static LanguageModel load(const std::filesystem::path& dir, Device device = Device::cpu(),
                            const LoadOptions& options = {});
  /// A new model of the architecture `config` describes (the text of a config.json: any
  /// model_type load() reads whose sizes are all in the config, e.g. mamba, mamba2, jamba and
  /// subq_hybrid) with freshly initialised weights, seeded, held as options say. With save_to,
  /// the checkpoint folder is written there too, for load() to read back.
  static LanguageModel random(const std::string& config, std::uint64_t seed, const std::filesystem::path& save_to = {},
                              const LoadOptions& options = {});
  ~LanguageModel();
  LanguageModel(LanguageModel&&) noexcept;
  LanguageModel& operator=(LanguageModel&&) noexcept;

  /// config.json's model_type.
  const std::string& architecture() const;
  std::int64_t vocab_size() const;
  /// Bytes of the weights one decoding step of one token reads: every tensor loaded but an
  /// embedding table that the step only indexes, and but the num_experts - top_k experts of each
  /// mixture it is not routed to. The floor of a step is these bytes at the memory bandwidth.
  std::int64_t decode_weight_bytes() const;
  /// Bytes of all the weights held, in the formats they are held in.
  std::int64_t weight_bytes() const;

  /// input_ids (batch, length >= 1) int64 -> logits (batch, length, vocab) float32. With a cache,
  /// the tokens continue the sequences it holds (an empty cache starts them), and the cache is
  /// left holding the state after the last token.
  Tensor forward(const Tensor& input_ids, ModelCache* cache = nullptr) const;
  /// A prompt into the cache, as forward() does, but only the last position's logits are made:
  /// input_ids (batch, length >= 1) -> (batch, vocab). The head is then one row per sequence, not
  /// length rows (at a vocabulary of 50K, as much work as the layers' for a short prompt).
  Tensor prefill(const Tensor& input_ids, ModelCache& cache) const;
  /// A ragged batch: sequences of different lengths packed end to end, each run from an empty
  /// state as forward() would run it alone. input_ids (total) int64 and the sequences' lengths
  /// (each >= 1, summing to total) -> logits (total, vocab), row t the logits after token t.
  /// The embeddings, norms, MLPs, experts and head run on the packed tokens, with no padding;
  /// each mixer keeps every sequence's steps from reaching the next (Mixer::forward_packed).
  Tensor forward_packed(const Tensor& input_ids, std::span<const std::int64_t> lengths) const;
  /// One decoding step from the cache: input_ids (batch) -> logits (batch, vocab).
  Tensor step(const Tensor& input_ids, ModelCache& cache) const;

  /// Context parallelism (README, "Context parallelism"): the ranks of comm hold consecutive
  /// segments of the same sequences, in rank order, and each calls this with its own, input_ids
  /// (batch, length_r >= 0) int64, batch the same on every rank. Calls each_piece(first, logits)
  /// with the logits (batch, n, vocab) of the segment's positions [first, first + n), n <=
  /// piece_length, in order: what forward() over the whole sequences gives those positions.
  /// Block by block, rank r takes the block's state after the segments before its own from rank
  /// r - 1, runs the block over its segment and passes its state on to rank r + 1, so that while
  /// rank r runs block i, rank r + 1 runs block i - 1: B blocks over P ranks take B + P - 1 times
  /// a block's time on one segment. Every rank must hold the same model: a mismatch is an Error on
  /// every rank. A collective: every rank of comm calls it.
  void forward_context_parallel(const Tensor& input_ids, dist::Communicator& comm, std::int64_t piece_length,
                                const std::function<void(std::int64_t first, const Tensor& logits)>& each_piece) const;
  /// The same, with all the segment's logits at once: (batch, length_r, vocab).
  Tensor forward_context_parallel(const Tensor& input_ids, dist::Communicator& comm) const;

  /// The host memory a forward() over `tokens` tokens (a batch's rows together) takes at its peak
  /// beyond the weights: activations, keys and values, states, logits. Measured on two short runs
  /// (64 and 128 tokens) and grown in proportion, so a run can be refused before it allocates;
  /// other threads' allocations meanwhile count too. Host memory only: on CUDA, what comes back.
  std::int64_t estimate_forward_bytes(std::int64_t tokens) const;

 private:
  Tensor run(const Tensor& input_ids, ModelCache* cache, bool last_only) const;

  LanguageModel(std::string architecture, std::unique_ptr<lm::Stack> network, std::int64_t weight_bytes);
  std::string architecture_;
  std::unique_ptr<lm::Stack> network_;
  std::int64_t weight_bytes_ = 0, decode_weight_bytes_ = 0;
};

}  // namespace subq
