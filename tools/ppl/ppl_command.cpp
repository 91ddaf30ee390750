#include "tools/ppl/ppl_command.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "core/check.hpp"
#include "lm/divergence.hpp"
#include "lm/scorer.hpp"
#include "lm/tokenizer.hpp"
#include "tools/plot/line_plot.hpp"
#include "tools/weights_option.hpp"

namespace subq::tools {

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  SUBQ_CHECK(in.good(), "{}: cannot open", path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Throws unless the file is UTF-8 text: NUL bytes or invalid UTF-8 mean a binary file.
void check_text(const std::string& path, const std::string& text) {
  SUBQ_CHECK(!text.empty(), "{}: the text is empty", path);
  std::size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    const std::size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    SUBQ_CHECK(c != 0 && n != 0 && i + n <= text.size(), "{}: byte {} is not UTF-8 text (a binary file?)", path, i);
    for (std::size_t k = 1; k < n; ++k)
      SUBQ_CHECK((static_cast<unsigned char>(text[i + k]) >> 6) == 2, "{}: byte {} is not UTF-8 text (a binary file?)", path, i + k);
    i += n;
  }
}

// A .npy array of integers (little-endian int32/int64/uint16/uint32) or raw int32 (.bin).
std::vector<std::int64_t> token_file(const std::string& path) {
  const std::string bytes = read_file(path);
  std::string dtype = "<i4";
  std::size_t start = 0;
  if (bytes.rfind("\x93NUMPY", 0) == 0) {
    SUBQ_CHECK(bytes.size() >= 10, "{}: truncated .npy header", path);
    const std::size_t header = std::size_t(static_cast<unsigned char>(bytes[8])) | std::size_t(static_cast<unsigned char>(bytes[9])) << 8;
    start = 10 + header;
    SUBQ_CHECK(bytes.size() >= start, "{}: truncated .npy header", path);
    const std::string h = bytes.substr(10, header);
    const std::size_t d = h.find("'descr': '");
    SUBQ_CHECK(d != std::string::npos, "{}: .npy header without descr", path);
    dtype = h.substr(d + 10, 3);
    SUBQ_CHECK(h.find("'fortran_order': False") != std::string::npos, "{}: Fortran-ordered arrays are not supported", path);
  }
  const std::size_t width = dtype == "<i8" ? 8 : dtype == "<u2" ? 2 : 4;
  SUBQ_CHECK(dtype == "<i4" || dtype == "<i8" || dtype == "<u2" || dtype == "<u4",
             "{}: token dtype '{}': expected int32, int64, uint16 or uint32", path, dtype);
  SUBQ_CHECK((bytes.size() - start) % width == 0, "{}: {} data bytes are not whole {}-byte ids", path, bytes.size() - start, width);
  std::vector<std::int64_t> ids((bytes.size() - start) / width);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const char* p = bytes.data() + start + i * width;
    if (dtype == "<i4") { std::int32_t v; std::memcpy(&v, p, 4); ids[i] = v; }
    else if (dtype == "<i8") { std::memcpy(&ids[i], p, 8); }
    else if (dtype == "<u2") { std::uint16_t v; std::memcpy(&v, p, 2); ids[i] = v; }
    else { std::uint32_t v; std::memcpy(&v, p, 4); ids[i] = v; }
  }
  SUBQ_CHECK(!ids.empty(), "{}: no tokens", path);
  return ids;
}

void progress_bar(std::int64_t done, std::int64_t total) {
  constexpr int kWidth = 40;
  const int filled = int(kWidth * done / std::max<std::int64_t>(total, 1));
  std::fprintf(stderr, "\r[%s%s] %lld/%lld", std::string(std::size_t(filled), '=').c_str(),
               std::string(std::size_t(kWidth - filled), ' ').c_str(), static_cast<long long>(done), static_cast<long long>(total));
  if (done == total) std::fprintf(stderr, "\n");
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

}  // namespace

int run_ppl(const PplOptions& o) {
  SUBQ_CHECK(o.text.empty() != o.tokens.empty(), "ppl: give exactly one of --text or --tokens");
  const LanguageModel model = LanguageModel::load(o.model, parse_device(o.device), {.weights = weight_format(o.dtype)});
  std::vector<std::int64_t> tokens;
  std::int64_t text_size = 0;
  if (!o.text.empty()) {
    const std::string text = read_file(o.text);
    check_text(o.text, text);
    // The tokenizer: --tokenizer, else the checkpoint's tokenizer.json, else bytes.
    const std::filesystem::path beside = std::filesystem::path(o.model) / "tokenizer.json";
    const std::string file = !o.tokenizer.empty() ? o.tokenizer : std::filesystem::exists(beside) ? beside.string() : "";
    const Tokenizer tokenizer = file.empty() ? Tokenizer::bytes() : Tokenizer::load(file);
    SUBQ_CHECK(file.empty() || tokenizer.vocab_size() <= model.vocab_size(),
               "ppl: {} has {} tokens but the model only {}", file, tokenizer.vocab_size(), model.vocab_size());
    SUBQ_CHECK(!file.empty() || model.vocab_size() >= 256,
               "ppl: {} has a vocabulary of {} and no tokenizer.json: give --tokenizer or --tokens", o.model, model.vocab_size());
    tokens = tokenizer.encode(text);
    text_size = std::int64_t(text.size());
  } else {
    tokens = token_file(o.tokens);
    text_size = std::int64_t(tokens.size());  // unknown text: bits per byte are reported per token
  }
  ScoreOptions options;
  options.window = o.window;
  options.protocol = o.stream ? ScoreProtocol::Stream : o.stride > 0 ? ScoreProtocol::Sliding : ScoreProtocol::Windows;
  options.stride = o.stride;
  if (isatty(STDERR_FILENO)) options.progress = progress_bar;
  std::optional<LogProbWriter> saved;
  std::optional<DivergenceTally> divergence;
  if (!o.save_logits.empty()) saved.emplace(o.save_logits, model.vocab_size(), o.kl_top_k);
  if (!o.kl_divergence.empty()) divergence.emplace(o.kl_divergence);
  if (saved || divergence)
    options.each_position = [&](std::span<const double> log_probs, std::int64_t target) {
      if (saved) saved->add(log_probs, target);
      if (divergence) divergence->add(log_probs, target);
    };
  const ScoreResult r = score(model, tokens, text_size, options);
  if (saved) saved->finish();
  const char* protocol = o.stream ? "stream" : o.stride > 0 ? "sliding" : "windows";
  fmt::print("model {} ({}), {} protocol, window {}\n", o.model, model.architecture(), protocol, o.window);
  fmt::print(
      "tokens_scored {}\nmean_nll_nats {:.6f} +- {:.6f}\nperplexity {:.4f} +- {:.4f}\nbits_per_token {:.6f}\n"
      "bits_per_byte {:.6f}\n",
      r.tokens_scored, r.mean_nll_nats, r.mean_nll_error, r.perplexity, r.perplexity_error, r.bits_per_token,
      r.bits_per_byte);
  fmt::print("tokens_per_second {:.0f}\n", r.tokens_per_second);
  if (saved) fmt::print("saved the distributions of {} positions to {}\n", r.tokens_scored, o.save_logits);
  if (divergence) print_divergence(divergence->summary(), o.kl_divergence);
  if (!o.json.empty()) {
    nlohmann::json j = {{"model", o.model},         {"architecture", model.architecture()}, {"protocol", protocol},
                        {"window", o.window},       {"tokens_scored", r.tokens_scored},     {"mean_nll_nats", r.mean_nll_nats},
                        {"perplexity", r.perplexity}, {"bits_per_byte", r.bits_per_byte},   {"bits_per_token", r.bits_per_token},
                        {"tokens_per_second", r.tokens_per_second}, {"seconds", r.seconds}};
    j["mean_nll_error"] = r.mean_nll_error, j["perplexity_error"] = r.perplexity_error, j["weights"] = o.dtype;
    if (divergence) j["kl_divergence"] = divergence_json(divergence->summary(), o.kl_divergence);
    std::ofstream(o.json) << j.dump(1) << "\n";
  }
  if (!o.per_position.empty()) {
    std::ofstream csv(o.per_position);
    SUBQ_CHECK(csv.good(), "{}: cannot write", o.per_position);
    csv << "position,mean_nll_nats\n";
    Series loss;
    for (std::size_t p = 0; p < r.nll_by_position.size(); ++p) {
      if (std::isnan(r.nll_by_position[p])) continue;
      csv << p << ',' << fmt::format("{:.6f}", r.nll_by_position[p]) << '\n';
      loss.x.push_back(double(p)), loss.y.push_back(r.nll_by_position[p]);
    }
    // The plot beside the CSV: loss (y) against position in the window (x, log scale).
    const std::string png = o.per_position.substr(0, o.per_position.rfind('.')) + ".png";
    write_line_plot(png, {loss}, {"mean loss by position in the window", "position (tokens)", "NLL (nats)"}, /*log_x=*/true);
    fmt::print("per-position loss: {} and {}\n", o.per_position, png);
  }
  return 0;
}

}  // namespace subq::tools
