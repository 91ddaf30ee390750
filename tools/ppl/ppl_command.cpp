#include "tools/ppl/ppl_command.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>

#include "core/atomic_file.hpp"
#include "core/check.hpp"
#include "core/memory.hpp"
#include "lm/divergence.hpp"
#include "lm/scorer.hpp"
#include "lm/tokenizer.hpp"
#include "tools/interrupt.hpp"
#include "tools/load_options.hpp"
#include "tools/plot/line_plot.hpp"
#include "tools/ppl/inputs.hpp"
#include "tools/ranks.hpp"

namespace subq::tools {

namespace {

ScoreProtocol parse_protocol(const PplOptions& o) {
  SUBQ_CHECK(!o.stream || o.protocol == "windows" || o.protocol == "stream", "ppl: --stream and --protocol {} disagree",
             o.protocol);
  if (o.stream) return ScoreProtocol::Stream;
  if (o.protocol == "windows") return o.stride > 0 ? ScoreProtocol::Sliding : ScoreProtocol::Windows;
  SUBQ_CHECK(o.stride == 0 || o.protocol == "sliding", "ppl: --stride is for the sliding protocol, not {}", o.protocol);
  if (o.protocol == "sliding") return ScoreProtocol::Sliding;
  if (o.protocol == "stream") return ScoreProtocol::Stream;
  if (o.protocol == "lm-eval") return ScoreProtocol::LmEval;
  if (o.protocol == "llama") return ScoreProtocol::Llama;
  throw Error(fmt::format("ppl: --protocol {}: expected windows, sliding, stream, lm-eval or llama", o.protocol));
}

const char* protocol_name(ScoreProtocol p) {
  switch (p) {
    case ScoreProtocol::Windows: return "windows";
    case ScoreProtocol::Sliding: return "sliding";
    case ScoreProtocol::Stream: return "stream";
    case ScoreProtocol::LmEval: return "lm-eval";
    case ScoreProtocol::Llama: return "llama";
  }
  return "";
}

// config.json's integer `key`, if it has one.
std::optional<std::int64_t> config_token(const std::string& model, const char* key) {
  const nlohmann::json config =
      nlohmann::json::parse(read_file((std::filesystem::path(model) / "config.json").string()), nullptr, false);
  if (config.is_object() && config.contains(key) && config[key].is_number_integer())
    return config[key].get<std::int64_t>();
  return std::nullopt;
}

std::vector<Document> documents_of(const PplOptions& o, const LanguageModel& model) {
  SUBQ_CHECK(int(!o.text.empty()) + int(!o.tokens.empty()) + int(!o.documents.empty()) == 1,
             "ppl: give exactly one of --text, --tokens or --documents");
  if (!o.tokens.empty()) {
    std::vector<std::int64_t> ids = read_token_file(o.tokens);
    const auto n = std::int64_t(ids.size());
    return {{o.tokens, std::move(ids), n, 0}};  // unknown text: bits per byte are reported per token
  }
  std::vector<TextDocument> texts;
  if (!o.text.empty()) {
    texts.push_back({o.text, read_file(o.text)});
    check_text(o.text, texts.back().text);
  } else {
    texts = read_documents(o.documents);
  }
  const Tokenizer tokenizer = text_tokenizer(o.model, o.tokenizer, model.vocab_size());
  std::vector<Document> documents;
  for (TextDocument& t : texts)
    documents.push_back(
        {std::move(t.name), tokenizer.encode(t.text), std::int64_t(t.text.size()), count_words(t.text)});
  return documents;
}

void progress_bar(const ScoreProgress& p) {
  constexpr int kWidth = 40;
  const int filled = int(kWidth * p.tokens_done / std::max<std::int64_t>(p.tokens, 1));
  std::fprintf(stderr, "\r[%s%s] %lld/%lld tokens", std::string(std::size_t(filled), '=').c_str(),
               std::string(std::size_t(kWidth - filled), ' ').c_str(), static_cast<long long>(p.tokens_done),
               static_cast<long long>(p.tokens));
  if (p.documents > 1)
    std::fprintf(stderr, ", document %lld/%lld", static_cast<long long>(p.document + 1),
                 static_cast<long long>(p.documents));
  std::fflush(stderr);
}

void print_divergence(const DivergenceSummary& d, const std::string& reference) {
  fmt::print("against {} ({} positions):\n", reference, d.tokens);
  fmt::print("mean_kld {:.6g} +- {:.2g}\n", d.mean_kld, d.kld_error);
  for (const auto& [p, v] : d.kld_percentiles) fmt::print("kld_p{:<4} {:.6g}\n", p, v);
  fmt::print("mean_delta_p {:+.4f} %\nrms_delta_p {:.4f} %\nsame_top {:.3f} %\n", 100 * d.mean_delta_p,
             100 * d.rms_delta_p, 100 * d.same_top);
  fmt::print("ln_ppl_ratio {:.6g} +- {:.2g}\n", d.ln_ppl_ratio, d.ln_ppl_ratio_error);
}

nlohmann::json divergence_json(const DivergenceSummary& d, const std::string& reference) {
  nlohmann::json percentiles;
  for (const auto& [p, v] : d.kld_percentiles) percentiles[fmt::format("{}", p)] = v;
  return {{"reference", reference},         {"tokens", d.tokens},
          {"mean_kld", d.mean_kld},         {"kld_error", d.kld_error},
          {"kld_percentiles", percentiles}, {"mean_delta_p", d.mean_delta_p},
          {"rms_delta_p", d.rms_delta_p},   {"same_top", d.same_top},
          {"ln_ppl_ratio", d.ln_ppl_ratio}, {"ln_ppl_ratio_error", d.ln_ppl_ratio_error}};
}

void print_result(const ScoreResult& r) {
  fmt::print(
      "tokens_scored {}\nmean_nll_nats {:.6f} +- {:.6f}\nperplexity {:.4f} +- {:.4f}\nbits_per_token {:.6f}\n"
      "bits_per_byte {:.6f} +- {:.6f}\nbyte_perplexity {:.6f}\n",
      r.tokens_scored, r.mean_nll_nats, r.mean_nll_error, r.perplexity, r.perplexity_error, r.bits_per_token,
      r.bits_per_byte, r.bits_per_byte_error, r.byte_perplexity);
  if (!std::isnan(r.word_perplexity)) fmt::print("word_perplexity {:.4f}\n", r.word_perplexity);
  if (r.nonfinite_positions > 0) fmt::print("nonfinite_positions {}\n", r.nonfinite_positions);
  fmt::print("tokens_per_second {:.0f}\n", r.tokens_per_second);
}

// JSON numbers cannot be NaN: null stands for "none".
nlohmann::json number(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

nlohmann::json result_json(const ScoreResult& r) {
  nlohmann::json j = {{"tokens_scored", r.tokens_scored},
                      {"nll_sum_nats", r.nll_sum_nats},
                      {"mean_nll_nats", number(r.mean_nll_nats)},
                      {"mean_nll_error", r.mean_nll_error},
                      {"perplexity", number(r.perplexity)},
                      {"perplexity_error", number(r.perplexity_error)},
                      {"bits_per_token", number(r.bits_per_token)},
                      {"bits_per_byte", number(r.bits_per_byte)},
                      {"bits_per_byte_error", number(r.bits_per_byte_error)},
                      {"byte_perplexity", number(r.byte_perplexity)},
                      {"word_perplexity", number(r.word_perplexity)},
                      {"nonfinite_positions", r.nonfinite_positions},
                      {"seconds", r.seconds}};
  if (!r.name.empty()) j["name"] = r.name;
  return j;
}

void write_per_position(const std::string& path, const ScoreResult& r) {
  AtomicFile file(path);
  std::ofstream& csv = file.stream();
  csv << "position,mean_nll_nats\n";
  Series loss;
  for (std::size_t p = 0; p < r.nll_by_position.size(); ++p) {
    if (std::isnan(r.nll_by_position[p])) continue;
    csv << p << ',' << fmt::format("{:.6f}", r.nll_by_position[p]) << '\n';
    loss.x.push_back(double(p)), loss.y.push_back(r.nll_by_position[p]);
  }
  file.commit();
  // The plot beside the CSV: loss (y) against position in the window (x, log scale).
  const std::string png = path.substr(0, path.rfind('.')) + ".png";
  write_line_plot(png, {loss}, {"mean loss by position in the window", "position (tokens)", "NLL (nats)"},
                  /*log_x=*/true);
  fmt::print("per-position loss: {} and {}\n", path, png);
}

// The loss by depth of two runs (this one's protocol and the comparison), as CSV rows per
// bucket and one plot: the picture of a model using its context (or not) past the window.
void write_depth_curve(const std::string& path, const std::vector<std::pair<std::string, const ScoreResult*>>& runs) {
  AtomicFile file(path);
  std::ofstream& csv = file.stream();
  csv << "protocol,begin,end,tokens,mean_nll_nats\n";
  std::vector<Series> curves;
  for (const auto& [name, r] : runs) {
    Series s{name, {}, {}};
    for (const DepthBucket& b : r->nll_by_depth) {
      csv << name << ',' << b.begin << ',' << b.end << ',' << b.count << ',' << fmt::format("{:.6f}", b.mean_nll_nats)
          << '\n';
      // Plotted at the bucket's geometric middle (position 0 at 0.5 on the log axis).
      s.x.push_back(std::sqrt(std::max(0.25, double(b.begin)) * double(b.end))), s.y.push_back(b.mean_nll_nats);
    }
    curves.push_back(std::move(s));
  }
  file.commit();
  const std::string png = path.substr(0, path.rfind('.')) + ".png";
  write_line_plot(png, curves, {"mean loss by position in the document", "position (tokens)", "NLL (nats)"},
                  /*log_x=*/true);
  fmt::print("loss by depth: {} and {}\n", path, png);
}

}  // namespace

int run_ppl(const PplOptions& o) {
  dist::Communicator& ranks = command_ranks("ppl", o.context_parallel);
  const bool reporting = ranks.rank() == 0;  // the other ranks score and stay quiet
  const Device device = parse_device(o.device);
  const LanguageModel model = LanguageModel::load(o.model, device, load_options(o.dtype, o.max_memory));
  const std::vector<Document> documents = documents_of(o, model);
  ScoreOptions options;
  options.window = o.window;
  options.protocol = parse_protocol(o);
  options.stride = o.stride;
  options.batch = o.batch;
  const bool streamed = options.protocol == ScoreProtocol::Stream;
  check_run_memory(model, device,
                   streamed ? fmt::format("ppl: the stream in calls of {} tokens", o.window)
                            : fmt::format("ppl: {} windows of {} tokens per call", o.batch, o.window),
                   streamed ? o.window : o.batch * o.window, o.max_memory);
  options.allow_nonfinite = o.allow_nonfinite;
  const std::optional<std::int64_t> bos = o.bos_token ? o.bos_token : config_token(o.model, "bos_token_id");
  options.bos_token = bos.value_or(-1);
  const std::optional<std::int64_t> prefix = o.prefix_token ? o.prefix_token
                                             : bos          ? bos
                                                            : config_token(o.model, "eos_token_id");
  SUBQ_CHECK(options.protocol != ScoreProtocol::LmEval || prefix,
             "ppl: the lm-eval protocol puts a token before each document: {}/config.json has no bos_token_id or "
             "eos_token_id; give --prefix-token",
             o.model);
  options.prefix_token = prefix.value_or(-1);
  if (o.context_parallel) options.ranks = &ranks;
  if (reporting && isatty(STDERR_FILENO)) options.progress = progress_bar;
  catch_interrupts();
  options.stop = [] { return caught_interrupt() != 0; };
  std::optional<LogProbWriter> saved;
  std::optional<DivergenceTally> divergence;
  if (!o.save_logits.empty()) saved.emplace(o.save_logits, model.vocab_size(), o.kl_top_k);
  if (!o.kl_divergence.empty()) divergence.emplace(o.kl_divergence);
  if (saved || divergence)
    options.each_position = [&](std::span<const double> log_probs, std::int64_t target) {
      if (saved) saved->add(log_probs, target);
      if (divergence) divergence->add(log_probs, target);
    };
  const DocumentScores scores = score(model, documents, options);
  if (options.progress) std::fprintf(stderr, "\n");
  // The --depth-curve comparison: the other protocol's pass, which every rank takes part in.
  ScoreOptions other = options;
  other.protocol = options.protocol == ScoreProtocol::Stream ? ScoreProtocol::Windows : ScoreProtocol::Stream;
  other.each_position = nullptr;
  const DocumentScores compared_scores =
      o.depth_curve.empty() || scores.stopped ? DocumentScores{} : score(model, documents, other);
  if (!o.depth_curve.empty() && options.progress) std::fprintf(stderr, "\n");
  // The states the ranks passed on, all of them together (a collective, before the others leave).
  double bytes_passed = 0;
  if (o.context_parallel)
    for (const std::vector<double>& sent : ranks.all_gather(std::vector<double>{double(ranks.bytes_sent())}))
      bytes_passed += sent[0];
  if (!reporting) return scores.stopped || compared_scores.stopped ? 128 + caught_interrupt() : 0;
  const ScoreResult& r = scores.total;
  const char* protocol = protocol_name(options.protocol);
  fmt::print("model {} ({}), {} protocol, window {}\n", o.model, model.architecture(), protocol, o.window);
  if (o.context_parallel)
    fmt::print("{} over {} ranks: {}\n", streamed ? "context parallel" : "data parallel", ranks.size(),
               streamed ? "each document cut into one segment per rank" : "the forward calls dealt out in turn");
  if (o.context_parallel && streamed) fmt::print("states passed between ranks: {}\n", format_bytes(bytes_passed));
  if (scores.stopped) {
    // What was scored is printed; no file is written (the saved distributions' temporary is
    // removed with its writer), so none is left half written under its name.
    fmt::print("interrupted by {} after {} scored tokens: the figures are of those; no files written\n",
               signal_name(caught_interrupt()), r.tokens_scored);
    print_result(r);
    return 128 + caught_interrupt();
  }
  if (saved) saved->finish();
  if (documents.size() > 1) {
    fmt::print("{:>8} {:>10} {:>12} {:>14}  document\n", "tokens", "scored", "mean_nll", "bits_per_byte");
    for (std::size_t i = 0; i < documents.size(); ++i) {
      const ScoreResult& d = scores.documents[i];
      fmt::print("{:>8} {:>10} {:>12.6f} {:>14.6f}  {}\n", documents[i].tokens.size(), d.tokens_scored, d.mean_nll_nats,
                 d.bits_per_byte, d.name);
    }
    fmt::print("documents {}\n", documents.size());
  }
  print_result(r);
  if (saved) fmt::print("saved the distributions of {} positions to {}\n", r.tokens_scored, o.save_logits);
  if (divergence) print_divergence(divergence->summary(), o.kl_divergence);
  if (!o.json.empty()) {
    nlohmann::json j = result_json(r);
    j["model"] = o.model, j["architecture"] = model.architecture(), j["protocol"] = protocol, j["window"] = o.window;
    j["weights"] = o.dtype, j["tokens_per_second"] = r.tokens_per_second;
    if (documents.size() > 1)
      for (const ScoreResult& d : scores.documents) j["documents"].push_back(result_json(d));
    for (const DepthBucket& b : r.nll_by_depth)
      j["nll_by_depth"].push_back(
          {{"begin", b.begin}, {"end", b.end}, {"tokens", b.count}, {"mean_nll_nats", b.mean_nll_nats}});
    if (divergence) j["kl_divergence"] = divergence_json(divergence->summary(), o.kl_divergence);
    write_file_atomically(o.json, j.dump(1) + "\n");
  }
  if (!o.per_position.empty()) write_per_position(o.per_position, r);
  if (!o.depth_curve.empty()) {
    const ScoreResult& compared = compared_scores.total;
    if (compared_scores.stopped) {
      fmt::print("interrupted by {} in the {} pass of --depth-curve: {} not written\n", signal_name(caught_interrupt()),
                 protocol_name(other.protocol), o.depth_curve);
      return 128 + caught_interrupt();
    }
    write_depth_curve(o.depth_curve, {{protocol, &r}, {protocol_name(other.protocol), &compared}});
  }
  return 0;
}

}  // namespace subq::tools
