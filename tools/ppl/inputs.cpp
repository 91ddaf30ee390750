#include "tools/ppl/inputs.hpp"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/check.hpp"

namespace subq::tools {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  SUBQ_CHECK(in.good(), "{}: cannot open", path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

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

std::vector<std::int64_t> read_token_file(const std::string& path) { return parse_token_file(path, read_file(path)); }

std::vector<std::int64_t> parse_token_file(const std::string& path, const std::string& bytes) {
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

Tokenizer text_tokenizer(const std::string& model_dir, const std::string& tokenizer_json, std::int64_t vocab_size) {
  const std::filesystem::path beside = std::filesystem::path(model_dir) / "tokenizer.json";
  const std::string file = !tokenizer_json.empty()           ? tokenizer_json
                           : std::filesystem::exists(beside) ? beside.string()
                                                             : "";
  const Tokenizer tokenizer = file.empty() ? Tokenizer::bytes() : Tokenizer::load(file);
  SUBQ_CHECK(file.empty() || tokenizer.vocab_size() <= vocab_size, "{} has {} tokens but the model only {}", file,
             tokenizer.vocab_size(), vocab_size);
  SUBQ_CHECK(!file.empty() || vocab_size >= 256,
             "{} has a vocabulary of {} and no tokenizer.json: give --tokenizer (or, for ppl, --tokens)", model_dir,
             vocab_size);
  return tokenizer;
}

std::vector<TextDocument> parse_jsonl_documents(const std::string& path, const std::string& text) {
  std::istringstream in(text);
  std::vector<TextDocument> documents;
  std::string line;
  for (std::int64_t number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = path + ":" + std::to_string(number);
    const nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    SUBQ_CHECK(!j.is_discarded(), "{}: not a JSON object", where);
    SUBQ_CHECK(j.is_object() && j.contains("text") && j["text"].is_string(), "{}: expected an object with a string \"text\"", where);
    TextDocument d{where, j["text"].get<std::string>()};
    check_text(where, d.text);
    documents.push_back(std::move(d));
  }
  SUBQ_CHECK(!documents.empty(), "{}: no documents", path);
  return documents;
}

std::vector<TextDocument> read_documents(const std::string& path) {
  namespace fs = std::filesystem;
  SUBQ_CHECK(fs::exists(path), "{}: no such file or folder", path);
  if (!fs::is_directory(path)) return parse_jsonl_documents(path, read_file(path));
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(path))
    if (entry.is_regular_file() && entry.path().extension() == ".txt") files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  SUBQ_CHECK(!files.empty(), "{}: no .txt files in the folder", path);
  std::vector<TextDocument> documents;
  for (const fs::path& f : files) {
    TextDocument d{f.filename().string(), read_file(f.string())};
    check_text(f.string(), d.text);
    documents.push_back(std::move(d));
  }
  return documents;
}

}  // namespace subq::tools
