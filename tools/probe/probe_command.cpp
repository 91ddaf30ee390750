#include "tools/probe/probe_command.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "core/atomic_file.hpp"
#include "core/check.hpp"
#include "lm/probe.hpp"
#include "tools/device_option.hpp"
#include "tools/plot/heatmap.hpp"
#include "tools/ppl/inputs.hpp"
#include "tools/load_options.hpp"

namespace subq::tools {

namespace {

std::vector<std::string> split(const std::string& list) {
  std::vector<std::string> items;
  std::stringstream s(list);
  for (std::string item; std::getline(s, item, ',');)
    if (!item.empty()) items.push_back(item);
  return items;
}

// "4096", "4K" (x 1024) or "1M" (x 1024^2).
std::int64_t parse_length(const std::string& s) {
  std::size_t used = 0;
  std::int64_t n = 0;
  try {
    n = std::stoll(s, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  const std::string unit = s.substr(used);
  SUBQ_CHECK(used > 0 && n > 0 && (unit.empty() || unit == "K" || unit == "k" || unit == "M"),
             "probe: --lengths {}: expected a positive number of tokens, e.g. 4096, 4K or 1M", s);
  return n * (unit.empty() ? 1 : unit == "M" ? 1 << 20 : 1 << 10);
}

std::string length_label(std::int64_t n) {
  if (n % (1 << 20) == 0) return fmt::format("{}M", n >> 20);
  if (n % (1 << 10) == 0) return fmt::format("{}K", n >> 10);
  return fmt::format("{}", n);
}

double parse_number(const std::string& s, const char* option) {
  try {
    std::size_t used = 0;
    const double v = std::stod(s, &used);
    if (used == s.size()) return v;
  } catch (const std::exception&) {
  }
  throw Error(fmt::format("probe: {} {}: not a number", option, s));
}

// A cell's results: the accuracies in [0, 1].
struct Cell {
  double accuracy = 0, exact = 0, mean_rank = 0, seconds = 0;
};

void progress(std::int64_t done, std::int64_t total) {
  if (!isatty(STDERR_FILENO)) return;
  constexpr int kWidth = 40;
  const int filled = int(kWidth * done / std::max<std::int64_t>(total, 1));
  std::fprintf(stderr, "\r[%s%s] %lld/%lld probes", std::string(std::size_t(filled), '=').c_str(),
               std::string(std::size_t(kWidth - filled), ' ').c_str(), static_cast<long long>(done),
               static_cast<long long>(total));
  if (done == total) std::fprintf(stderr, "\n");
}

void print_grid(const char* what, const std::vector<std::string>& rows, const std::vector<std::string>& columns,
                const std::vector<std::vector<Cell>>& grid, double Cell::*field) {
  fmt::print("{}\n{:>10}", what, "");
  for (const std::string& c : columns) fmt::print(" {:>7}", c);
  fmt::print("\n");
  for (std::size_t r = 0; r < rows.size(); ++r) {
    fmt::print("{:>10}", rows[r]);
    for (const Cell& cell : grid[r]) fmt::print(" {:>7.2f}", cell.*field);
    fmt::print("\n");
  }
}

std::vector<std::vector<double>> values(const std::vector<std::vector<Cell>>& grid, double Cell::*field) {
  std::vector<std::vector<double>> v;
  for (const auto& row : grid) {
    v.emplace_back();
    for (const Cell& c : row) v.back().push_back(c.*field);
  }
  return v;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int run_probe(const ProbeOptions& o) {
  SUBQ_CHECK(o.kind == "passkey" || o.kind == "niah" || o.kind == "mqar", "probe: {}: expected passkey, niah or mqar",
             o.kind);
  SUBQ_CHECK(o.samples >= 1, "probe: --samples must be >= 1, found {}", o.samples);
  std::vector<std::int64_t> lengths;
  for (const std::string& s : split(o.lengths)) lengths.push_back(parse_length(s));
  SUBQ_CHECK(!lengths.empty(), "probe: --lengths is empty");
  const bool mqar = o.kind == "mqar";
  std::vector<double> rows;  // depths, or MQAR's key-value pairs
  for (const std::string& s : split(mqar ? o.kv_pairs : o.depths))
    rows.push_back(parse_number(s, mqar ? "--kv-pairs" : "--depths"));
  SUBQ_CHECK(!rows.empty(), "probe: {} is empty", mqar ? "--kv-pairs" : "--depths");
  const Device device = usable_device(o.device);
  const LanguageModel model = LanguageModel::load(o.model, device, load_options(o.dtype, o.max_memory));
  check_run_memory(model, device, fmt::format("probe: the prompt in calls of {} tokens", o.window), o.window,
                   o.max_memory);
  Tokenizer tokenizer = Tokenizer::bytes();
  std::vector<std::int64_t> haystack;
  if (!mqar) {
    tokenizer = text_tokenizer(o.model, o.tokenizer, model.vocab_size());
    const std::string path = o.haystack.empty() ? SUBQ_DEFAULT_HAYSTACK : o.haystack;
    SUBQ_CHECK(std::filesystem::exists(path), "probe: {}: no such haystack file (give --haystack)", path);
    const std::string text = read_file(path);
    check_text(path, text);
    haystack = tokenizer.encode(text);
  }
  std::vector<std::string> row_labels, column_labels;
  for (const double r : rows) row_labels.push_back(mqar ? fmt::format("{:g} pairs", r) : fmt::format("depth {:g}", r));
  for (const std::int64_t n : lengths) column_labels.push_back(length_label(n));
  std::mt19937_64 rng(o.seed);
  nlohmann::json samples = nlohmann::json::array();
  std::vector<std::vector<Cell>> grid(rows.size(), std::vector<Cell>(lengths.size()));
  const std::int64_t total = std::int64_t(rows.size() * lengths.size()) * o.samples;
  std::int64_t done = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (std::size_t c = 0; c < lengths.size(); ++c)
    for (std::size_t r = 0; r < rows.size(); ++r) {
      Cell& cell = grid[r][c];
      const auto c0 = std::chrono::steady_clock::now();
      std::int64_t right = 0, queries = 0, exact = 0, ranks = 0;
      for (std::int64_t s = 0; s < o.samples; ++s) {
        nlohmann::json j = {{"length", lengths[c]}, {"sample", s}};
        if (mqar) {
          MqarOptions m;
          m.vocab_size = std::min<std::int64_t>(8192, model.vocab_size());  // Zoology's vocabulary, or the model's
          m.sequence_length = lengths[c], m.num_kv_pairs = std::int64_t(rows[r]);
          const MqarExample e = mqar_example(m, rng);
          const std::int64_t hits = score_mqar(model, e, o.window);
          right += hits, queries += m.num_kv_pairs;
          j["kv_pairs"] = m.num_kv_pairs, j["correct"] = hits;
        } else {
          const NeedlePrompt p = needle_prompt(o.kind == "passkey" ? NeedleKind::Passkey : NeedleKind::Niah, tokenizer,
                                               haystack, lengths[c], rows[r], o.candidates, rng);
          const NeedleScore score = score_needle(model, p, o.window);
          right += score.rank == 1, exact += score.exact, ranks += score.rank, ++queries;
          j["depth"] = rows[r], j["needle_position"] = p.needle_position, j["rank"] = score.rank;
          j["exact"] = score.exact, j["answer"] = tokenizer.decode(p.candidates[p.answer]);
          j["answer_log_likelihood"] = score.answer_log_likelihood;
        }
        samples.push_back(std::move(j));
        progress(++done, total);
      }
      cell.accuracy = double(right) / double(queries);
      cell.exact = double(exact) / double(queries);
      cell.mean_rank = double(ranks) / double(queries);
      cell.seconds = seconds_since(c0);
    }
  fmt::print("model {} ({}), {} probe, {} sample(s) a cell, seed {}\n", o.model, model.architecture(), o.kind,
             o.samples, o.seed);
  if (mqar) {
    print_grid("accuracy at the queries (the most likely next token is the value)", row_labels, column_labels, grid,
               &Cell::accuracy);
  } else {
    print_grid(fmt::format("accuracy (the answer ranks first of {} by likelihood)", o.candidates).c_str(), row_labels,
               column_labels, grid, &Cell::accuracy);
    print_grid("exact match (greedy generation)", row_labels, column_labels, grid, &Cell::exact);
    print_grid("mean rank", row_labels, column_labels, grid, &Cell::mean_rank);
  }
  nlohmann::json j = {
      {"model", o.model},   {"architecture", model.architecture()}, {"probe", o.kind},
      {"seed", o.seed},     {"samples_per_cell", o.samples},        {"window", o.window},
      {"lengths", lengths}, {"seconds", seconds_since(t0)},         {mqar ? "kv_pairs" : "depths", rows},
      {"samples", samples}};
  if (!mqar) j["candidates"] = o.candidates;
  for (const auto& [name, field] :
       {std::pair{"accuracy", &Cell::accuracy}, {"exact", &Cell::exact}, {"mean_rank", &Cell::mean_rank}})
    if (!mqar || std::string(name) == "accuracy") j[name] = values(grid, field);
  const std::string json = o.out + ".json", png = o.out + ".png";
  write_file_atomically(json, j.dump(1) + "\n");
  const std::string title =
      fmt::format("{} {}: {}", o.kind, mqar ? "accuracy" : "accuracy by likelihood", model.architecture());
  write_heatmap(png, values(grid, &Cell::accuracy), row_labels, column_labels, {title, "prompt length (tokens)", ""});
  fmt::print("results: {} and {}", json, png);
  if (!mqar) {
    const std::string exact_png = o.out + "_exact.png";
    write_heatmap(
        exact_png, values(grid, &Cell::exact), row_labels, column_labels,
        {fmt::format("{} exact match (greedy): {}", o.kind, model.architecture()), "prompt length (tokens)", ""});
    fmt::print(" and {}", exact_png);
  }
  fmt::print(" ({:.1f} s)\n", seconds_since(t0));
  return 0;
}

}  // namespace subq::tools
