// The subq command-line program. Each subcommand lives in its own file; this one only parses.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cstdio>

#include "core/device.hpp"
#include "core/error.hpp"
#include "dist/communicator.hpp"
#include "subq/version.hpp"
#include "tools/bench/bench_command.hpp"
#include "tools/bench/model_bench.hpp"
#include "tools/check/check_command.hpp"
#include "tools/generate/generate_command.hpp"
#include "tools/init/init_command.hpp"
#include "tools/ppl/ppl_command.hpp"
#include "tools/probe/probe_command.hpp"
#include "tools/quantize/quantize_command.hpp"

namespace {

constexpr const char* kDtypeHelp =
    "The weight matrices' format in memory: f32, bf16, f16, q8_0, q4_0 or stored (as the checkpoint stores them)";
constexpr const char* kMaxMemoryHelp =
    "The most memory the weights (and, for ppl and probe, the forward calls beside them) may take (512M, 24G, 1.5T or "
    "none; default: what is available): a run that needs more is refused before it starts, with its estimate";

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"subq: state-space and sub-quadratic sequence models"};
  app.set_version_flag("--version",
                       fmt::format("subq {} (CUDA backend: {}; MPI: {}; FFT: {}; CPU: {})", subq::build::version,
                                   subq::build::cuda ? "on" : "off", subq::build::mpi ? "on" : "off",
                                   subq::build::fft_backend, subq::cpu_isa()));
  app.require_subcommand(1);

  subq::check::CheckOptions check;
  CLI::App* check_cmd = app.add_subcommand("check", "Run conformance cases against their golden outputs");
  check_cmd->add_option("paths", check.paths, "Fixture root, family folder or case folder")->required();
  check_cmd->add_option("--device", check.device, "cpu, cuda or cuda:N")->capture_default_str();
  check_cmd->add_option("--only", check.only, "Only this family, case or op/arch");
  check_cmd->add_flag("--json", check.json, "Print the results as JSON");
  check_cmd
      ->add_option("--dtype", check.dtype,
                   "Model cases' weight matrices in f32, bf16, f16, q8_0 or q4_0, held to that format's tolerance")
      ->capture_default_str();

  subq::tools::PplOptions ppl;
  CLI::App* ppl_cmd = app.add_subcommand("ppl", "Perplexity of a checkpoint on a text or token file");
  ppl_cmd->add_option("--model", ppl.model, "Checkpoint folder (config.json + model.safetensors)")->required();
  ppl_cmd->add_option("--text", ppl.text, "UTF-8 text (tokenised by --tokenizer, the model's tokenizer.json, or as bytes)");
  ppl_cmd->add_option("--tokenizer", ppl.tokenizer, "A Hugging Face tokenizer.json (byte-level BPE)");
  ppl_cmd->add_option("--tokens", ppl.tokens, "Token ids: .npy (int32/int64/uint16/uint32) or raw int32 .bin");
  ppl_cmd->add_option(
      "--documents", ppl.documents,
      "Documents, each scored from an empty state: a .jsonl of {\"text\": ...} lines or a folder of .txt files");
  ppl_cmd
      ->add_option("--protocol", ppl.protocol,
                   "windows, sliding (with --stride), stream, lm-eval (loglikelihood_rolling) or llama "
                   "(llama-perplexity): README, \"Perplexity protocols\"")
      ->capture_default_str();
  ppl_cmd
      ->add_option("--window", ppl.window,
                   "Tokens per window (lm-eval's max length, llama's n_ctx; per call with stream)")
      ->capture_default_str();
  ppl_cmd->add_option("--stride", ppl.stride, "Sliding windows with this stride; only new tokens are scored");
  ppl_cmd
      ->add_option("--batch", ppl.batch,
                   "Windows per forward call, of any documents, packed end to end (not with stream)")
      ->capture_default_str();
  ppl_cmd->add_option("--prefix-token", ppl.prefix_token,
                      "lm-eval's token before each document (default: config.json's bos_token_id, else eos_token_id)");
  ppl_cmd->add_option("--bos-token", ppl.bos_token,
                      "llama's BOS, put before each document and over each chunk's first token "
                      "(default: config.json's bos_token_id; -1 for none)");
  ppl_cmd->add_flag("--allow-nonfinite", ppl.allow_nonfinite,
                    "Count positions whose logits are NaN or infinite instead of stopping at the first");
  ppl_cmd->add_option("--device", ppl.device, "cpu, cuda or cuda:N")->capture_default_str();
  ppl_cmd->add_option("--dtype", ppl.dtype, kDtypeHelp)->capture_default_str();
  ppl_cmd->add_option("--max-memory", ppl.max_memory, kMaxMemoryHelp);
  ppl_cmd->add_option("--save-logits", ppl.save_logits,
                      "Write each scored position's distribution here (top --kl-top-k tokens)");
  ppl_cmd->add_option("--kl-divergence", ppl.kl_divergence,
                      "Score against the distributions a --save-logits run wrote");
  ppl_cmd->add_option("--kl-top-k", ppl.kl_top_k, "Tokens --save-logits keeps per position (all when fewer)")
      ->capture_default_str();
  ppl_cmd->add_flag("--stream", ppl.stream, "One pass over the whole text carrying the model's state");
  ppl_cmd->add_flag("--context-parallel", ppl.context_parallel,
                    "Under mpirun: share the work among the ranks (the stream cut into one segment per rank, passing "
                    "the state on; the windows dealt out); rank 0 reports");
  ppl_cmd->add_option("--json", ppl.json, "Write the results as JSON to this file");
  ppl_cmd->add_option("--per-position", ppl.per_position,
                      "Write the mean loss by position in the window as CSV to this file (and a PNG plot beside it)");
  ppl_cmd->add_option("--depth-curve", ppl.depth_curve,
                      "Write the mean loss by position in the document (log-spaced buckets) as CSV and PNG, beside the "
                      "stream protocol's (the windows protocol's for a stream run): a second scoring pass");

  subq::tools::ProbeOptions probe;
  CLI::App* probe_cmd =
      app.add_subcommand("probe", "Retrieval probes over prompt length: passkey, needle in a haystack, MQAR");
  probe_cmd->add_option("kind", probe.kind, "passkey, niah or mqar")->required();
  probe_cmd->add_option("--model", probe.model, "Checkpoint folder (config.json + model.safetensors)")->required();
  probe_cmd->add_option("--lengths", probe.lengths, "Prompt lengths in tokens, comma-separated (4K = 4096, 1M)")
      ->capture_default_str();
  probe_cmd->add_option("--depths", probe.depths, "Where the needle goes, 0 (start) to 1 (end)")->capture_default_str();
  probe_cmd->add_option("--kv-pairs", probe.kv_pairs, "MQAR: key-value pairs per example, comma-separated")
      ->capture_default_str();
  probe_cmd->add_option("--samples", probe.samples, "Probes per cell of the grid")->capture_default_str();
  probe_cmd->add_option("--candidates", probe.candidates, "Answers the right one is ranked among by likelihood")
      ->capture_default_str();
  probe_cmd->add_option("--seed", probe.seed, "Random seed (the same grid for the same seed)")->capture_default_str();
  probe_cmd->add_option("--window", probe.window, "Tokens per forward call as the prompt streams")
      ->capture_default_str();
  probe_cmd->add_option("--haystack", probe.haystack, "Filler text (default: tests/data/moby_dick_heldout.txt)");
  probe_cmd->add_option("--tokenizer", probe.tokenizer,
                        "A Hugging Face tokenizer.json (default: the model's, else bytes)");
  probe_cmd->add_option("--out", probe.out, "Prefix of the JSON and PNG outputs")->capture_default_str();
  probe_cmd->add_option("--device", probe.device, "cpu, cuda or cuda:N")->capture_default_str();
  probe_cmd->add_option("--dtype", probe.dtype, kDtypeHelp)->capture_default_str();
  probe_cmd->add_option("--max-memory", probe.max_memory, kMaxMemoryHelp);

  subq::tools::GenerateOptions gen;
  CLI::App* gen_cmd = app.add_subcommand("generate", "Sample text from a checkpoint");
  gen_cmd->add_option("--model", gen.model, "Checkpoint folder (config.json + model.safetensors)")->required();
  gen_cmd->add_option("--prompt", gen.prompt, "Text to continue")->required();
  gen_cmd->add_option("--tokenizer", gen.tokenizer, "A Hugging Face tokenizer.json (default: the model's, else bytes)");
  gen_cmd->add_option("--max-tokens", gen.max_tokens, "Tokens to generate")->capture_default_str();
  gen_cmd->add_option("--temperature", gen.temperature, "0 for greedy")->capture_default_str();
  gen_cmd->add_option("--top-k", gen.top_k, "Sample among the k most likely tokens (0: all)")->capture_default_str();
  gen_cmd->add_option("--top-p", gen.top_p, "Nucleus sampling threshold")->capture_default_str();
  gen_cmd->add_option("--seed", gen.seed, "Random seed")->capture_default_str();
  gen_cmd->add_option("--device", gen.device, "cpu, cuda or cuda:N")->capture_default_str();
  gen_cmd->add_option("--dtype", gen.dtype, kDtypeHelp)->capture_default_str();
  gen_cmd->add_option("--max-memory", gen.max_memory, kMaxMemoryHelp);

  subq::tools::BenchOptions bench;
  CLI::App* bench_cmd = app.add_subcommand("bench", "Long-context prefill and decoding runs of every mixer");
  bench_cmd->add_flag("--quick", bench.quick, "L = 1K and 4K only");
  bench_cmd->add_option("--only", bench.only, "Only the mixers whose name contains this");
  bench_cmd->add_option("--out", bench.out, "Prefix of the CSV, JSON and PNG outputs")->capture_default_str();
  bench_cmd->add_option("--device", bench.device, "cpu, cuda or cuda:N")->capture_default_str();
  bench_cmd->add_option("--model", bench.model,
                        "A checkpoint folder: its prefill (512 and 4096 tokens; 512 with --quick) "
                        "and decoding speed instead of the mixers'");
  bench_cmd
      ->add_option("--dtype", bench.dtype,
                   "With --model: the weight formats to compare, comma-separated (f32,bf16,q8_0)")
      ->capture_default_str();

  subq::tools::InitOptions init;
  CLI::App* init_cmd = app.add_subcommand("init", "A new checkpoint with random weights from a config.json");
  init_cmd->add_option("--config", init.config, "The config (e.g. model_type subq_hybrid with a layer_pattern)")->required();
  init_cmd->add_option("--out", init.out, "Checkpoint folder to write")->required();
  init_cmd->add_option("--seed", init.seed, "Random seed")->capture_default_str();
  init_cmd->add_option("--max-memory", init.max_memory, kMaxMemoryHelp);

  subq::tools::QuantizeOptions quantize;
  CLI::App* quantize_cmd =
      app.add_subcommand("quantize", "A copy of a checkpoint with its weight matrices in bf16, f16, q8_0 or q4_0");
  quantize_cmd->add_option("--model", quantize.model, "Checkpoint folder to read")->required();
  quantize_cmd->add_option("--out", quantize.out, "Checkpoint folder to write")->required();
  quantize_cmd->add_option("--type", quantize.type, "bf16, f16, q8_0 or q4_0")->required();

  CLI11_PARSE(app, argc, argv);
  try {
    if (check_cmd->parsed()) return subq::check::run_check(check);
    if (ppl_cmd->parsed()) return subq::tools::run_ppl(ppl);
    if (probe_cmd->parsed()) return subq::tools::run_probe(probe);
    if (gen_cmd->parsed()) return subq::tools::run_generate(gen);
    if (bench_cmd->parsed())
      return bench.model.empty() ? subq::tools::run_bench(bench) : subq::tools::run_model_bench(bench);
    if (init_cmd->parsed()) return subq::tools::run_init(init);
    if (quantize_cmd->parsed()) return subq::tools::run_quantize(quantize);
  } catch (const subq::Error& e) {
    subq::dist::Communicator* world = nullptr;
    try {
      world = &subq::dist::Communicator::world();
    } catch (const subq::Error&) {  // the communicator's own setting (SUBQ_DIST_TIMEOUT) was the error
    }
    if (!world || !world->distributed()) {
      std::fprintf(stderr, "subq: %s\n", e.what());
      return 2;
    }
    // The other ranks may be waiting on this one: end them all rather than leave them to time out.
    std::fprintf(stderr, "subq: rank %d of %d: %s\n", world->rank(), world->size(), e.what());
    world->abort(2);
  }
  return 0;
}
