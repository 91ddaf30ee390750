#include "lm/tokenizer.hpp"

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/check.hpp"

namespace subq {

namespace {

// One Unicode code point of UTF-8 text at position i (invalid bytes read as themselves).
char32_t decode_utf8(const std::string& s, std::size_t i, std::size_t* length) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  std::size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
  if (i + n > s.size()) n = 1;
  char32_t cp = n == 1 ? c : n == 2 ? c & 0x1f : n == 3 ? c & 0x0f : c & 0x07;
  for (std::size_t k = 1; k < n; ++k) cp = (cp << 6) | (b(i + k) & 0x3f);
  *length = n;
  return cp;
}

std::string encode_utf8(char32_t cp) {
  std::string out;
  if (cp < 0x80) {
    out += char(cp);
  } else if (cp < 0x800) {
    out += char(0xc0 | (cp >> 6)), out += char(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += char(0xe0 | (cp >> 12)), out += char(0x80 | ((cp >> 6) & 0x3f)), out += char(0x80 | (cp & 0x3f));
  } else {
    out += char(0xf0 | (cp >> 18)), out += char(0x80 | ((cp >> 12) & 0x3f)), out += char(0x80 | ((cp >> 6) & 0x3f));
    out += char(0x80 | (cp & 0x3f));
  }
  return out;
}

// JavaScript's \s.
bool is_space(char32_t c) {
  return c == ' ' || (c >= 0x09 && c <= 0x0d) || c == 0xa0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200a) ||
         c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f || c == 0x3000 || c == 0xfeff;
}

// \p{N}: ASCII digits, Latin-1's superscripts and fractions, other scripts' digits approximated.
bool is_number(char32_t c) {
  return (c >= '0' && c <= '9') || c == 0xb2 || c == 0xb3 || c == 0xb9 || (c >= 0xbc && c <= 0xbe) ||
         (c >= 0x660 && c <= 0x669) || (c >= 0x2070 && c <= 0x2089) || (c >= 0x2150 && c <= 0x2189) ||
         (c >= 0xff10 && c <= 0xff19);
}

// \p{L}: ASCII letters; beyond ASCII every code point outside the punctuation, symbol and space
// blocks (an approximation that holds for Latin, Greek, Cyrillic, CJK and most scripts).
bool is_letter(char32_t c) {
  if (c < 0x80) return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  if (c < 0xc0) return c == 0xaa || c == 0xb5 || c == 0xba;
  if (c == 0xd7 || c == 0xf7 || is_space(c) || is_number(c)) return false;
  const bool symbol_block = (c >= 0x2000 && c <= 0x2bff) || (c >= 0x3000 && c <= 0x303f) || (c >= 0xfe30 && c <= 0xfe6f) ||
                            (c >= 0xff00 && c <= 0xff20) || (c >= 0x1f000 && c <= 0x1faff) || (c >= 0xe000 && c <= 0xf8ff);
  return !symbol_block || (c >= 0x2c00 && c <= 0x2c5f);
}

// GPT-2's split: 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
std::vector<std::string> split(const std::string& text) {
  std::vector<char32_t> cps;
  std::vector<std::size_t> offsets;
  for (std::size_t i = 0, n = 0; i < text.size(); i += n) offsets.push_back(i), cps.push_back(decode_utf8(text, i, &n));
  offsets.push_back(text.size());
  const std::size_t N = cps.size();
  auto other = [&](char32_t c) { return !is_space(c) && !is_letter(c) && !is_number(c); };
  std::vector<std::string> pieces;
  for (std::size_t p = 0; p < N;) {
    std::size_t end = p;
    if (cps[p] == '\'') {
      for (const char* contraction : {"'s", "'t", "'re", "'ve", "'m", "'ll", "'d"}) {
        const std::size_t len = std::char_traits<char>::length(contraction);
        if (text.compare(offsets[p], len, contraction) == 0) {
          end = p + len;
          break;
        }
      }
    }
    if (end == p) {
      const std::size_t q = cps[p] == ' ' && p + 1 < N ? p + 1 : p;  // the optional leading space
      if (is_letter(cps[q]) && (q == p || cps[p] == ' ')) {
        end = q;
        while (end < N && is_letter(cps[end])) ++end;
      } else if (is_number(cps[q])) {
        end = q;
        while (end < N && is_number(cps[end])) ++end;
      } else if (other(cps[q])) {
        end = q;
        while (end < N && other(cps[end])) ++end;
      } else {  // whitespace: leave the last one to lead the next piece
        end = p;
        while (end < N && is_space(cps[end])) ++end;
        if (end < N && end - p > 1) --end;
      }
    }
    pieces.push_back(text.substr(offsets[p], offsets[end] - offsets[p]));
    p = end;
  }
  return pieces;
}

// Splits UTF-8 text into its code points, each as its own string.
std::vector<std::string> characters(const std::string& s) {
  std::vector<std::string> out;
  for (std::size_t i = 0, n = 0; i < s.size(); i += n) {
    decode_utf8(s, i, &n);
    out.push_back(s.substr(i, n));
  }
  return out;
}

// The file's added_tokens as (content, id).
std::vector<std::pair<std::string, std::int64_t>> added_tokens(const nlohmann::json& j, const std::string& source) {
  std::vector<std::pair<std::string, std::int64_t>> added;
  if (!j.contains("added_tokens") || j["added_tokens"].is_null()) return added;
  SUBQ_CHECK(j["added_tokens"].is_array(), "{}: added_tokens is not an array", source);
  for (const auto& a : j["added_tokens"]) {
    SUBQ_CHECK(a.is_object() && a.contains("id") && a["id"].is_number_integer() && a["id"].get<std::int64_t>() >= 0 &&
                   a.contains("content") && a["content"].is_string() && !a["content"].get<std::string>().empty(),
               "{}: an added token needs an id >= 0 and a non-empty content, found {}", source, a.dump());
    added.emplace_back(a["content"].get<std::string>(), a["id"].get<std::int64_t>());
  }
  return added;
}

// Ids index the decoding table, so they must be dense enough for it: a gap of more than the
// entries themselves (an id of 2^60 in a fuzzed file) would ask for terabytes.
void check_id_dense(const std::string& source, std::int64_t id, std::int64_t entries) {
  SUBQ_CHECK(id < 2 * entries + 1024, "{}: id {} is far beyond the {} tokens listed (ids must be dense)", source, id,
             entries);
}

}  // namespace

Tokenizer Tokenizer::bytes() { return Tokenizer{}; }

Tokenizer Tokenizer::load(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  SUBQ_CHECK(in.good(), "{}: cannot open", path.string());
  std::stringstream text;
  text << in.rdbuf();
  return parse(text.str(), path.string());
}

Tokenizer Tokenizer::parse(const std::string& json, const std::string& source) {
  const nlohmann::json j = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  SUBQ_CHECK(j.is_object() && j.contains("model") && j["model"].is_object(), "{}: no 'model' object", source);
  const nlohmann::json& model = j["model"];
  const std::string type = model.contains("type") && model["type"].is_string() ? model["type"].get<std::string>() : "";
  SUBQ_CHECK(type == "BPE", "{}: model.type '{}': only byte-level BPE is supported", source, type);
  SUBQ_CHECK(
      model.contains("vocab") && model["vocab"].is_object() && model.contains("merges") && model["merges"].is_array(),
      "{}: model needs a vocab object and a merges array", source);
  Tokenizer t;
  t.bpe_ = true;
  const std::int64_t entries =
      std::int64_t(model["vocab"].size()) +
      (j.contains("added_tokens") && j["added_tokens"].is_array() ? std::int64_t(j["added_tokens"].size()) : 0);
  for (const auto& [token, id] : model["vocab"].items()) {
    SUBQ_CHECK(id.is_number_integer() && id.get<std::int64_t>() >= 0, "{}: vocab['{}'] is not an id", source, token);
    const std::int64_t i = id.get<std::int64_t>();
    check_id_dense(source, i, entries);
    t.vocab_[token] = i;
    if (std::int64_t(t.tokens_.size()) <= i) t.tokens_.resize(std::size_t(i) + 1);
    t.tokens_[std::size_t(i)] = token;
  }
  int rank = 0;
  for (const auto& m : model["merges"]) {
    std::string a, b;
    if (m.is_string()) {
      const std::string s = m.get<std::string>();
      const std::size_t space = s.find(' ');
      SUBQ_CHECK(space != std::string::npos, "{}: merge '{}' is not two tokens", source, s);
      a = s.substr(0, space), b = s.substr(space + 1);
    } else {
      SUBQ_CHECK(m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string(),
                 "{}: a merge is neither 'a b' nor [a, b], found {}", source, m.dump());
      a = m[0].get<std::string>(), b = m[1].get<std::string>();
    }
    t.ranks_.emplace(std::make_pair(a, b), rank++);
  }
  std::vector<std::pair<std::string, std::int64_t>> added = added_tokens(j, source);
  for (const auto& a : added) check_id_dense(source, a.second, entries);
  t.add_tokens(std::move(added));
  // GPT-2's bytes_to_unicode: printable bytes stand for themselves, the rest for 256 + n.
  int shifted = 0;
  for (int byte = 0; byte < 256; ++byte) {
    const bool printable = (byte >= '!' && byte <= '~') || (byte >= 0xa1 && byte <= 0xac) || (byte >= 0xae && byte <= 0xff);
    t.byte_to_unicode_[byte] = encode_utf8(printable ? char32_t(byte) : char32_t(256 + shifted++));
    t.unicode_to_byte_[t.byte_to_unicode_[byte]] = static_cast<unsigned char>(byte);
  }
  return t;
}

std::int64_t Tokenizer::vocab_size() const { return bpe_ ? std::int64_t(tokens_.size()) : 256; }

std::vector<std::int64_t> Tokenizer::encode_piece(const std::string& piece) const {
  std::string mapped;
  for (const char c : piece) mapped += byte_to_unicode_[static_cast<unsigned char>(c)];
  std::vector<std::string> parts = characters(mapped);
  while (parts.size() > 1) {  // merge the best-ranked adjacent pair, everywhere it occurs
    int best = -1;
    std::pair<std::string, std::string> pair;
    for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
      const auto it = ranks_.find({parts[i], parts[i + 1]});
      if (it != ranks_.end() && (best < 0 || it->second < best)) best = it->second, pair = it->first;
    }
    if (best < 0) break;
    std::vector<std::string> merged;
    for (std::size_t i = 0; i < parts.size(); ++i) {
      if (i + 1 < parts.size() && parts[i] == pair.first && parts[i + 1] == pair.second) {
        merged.push_back(parts[i] + parts[i + 1]);
        ++i;
      } else {
        merged.push_back(parts[i]);
      }
    }
    parts = std::move(merged);
  }
  std::vector<std::int64_t> ids;
  for (const std::string& p : parts) {
    const auto it = vocab_.find(p);
    SUBQ_CHECK(it != vocab_.end(), "tokenizer: piece '{}' is not in the vocabulary", p);
    ids.push_back(it->second);
  }
  return ids;
}

void Tokenizer::add_tokens(std::vector<std::pair<std::string, std::int64_t>> added) {
  is_added_.assign(tokens_.size(), false);
  for (const auto& [content, id] : added) {
    if (std::int64_t(tokens_.size()) <= id) tokens_.resize(std::size_t(id) + 1), is_added_.resize(std::size_t(id) + 1);
    tokens_[std::size_t(id)] = content;
    is_added_[std::size_t(id)] = true;
    starts_added_[static_cast<unsigned char>(content[0])] = true;
  }
  std::stable_sort(added.begin(), added.end(), [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
  added_ = std::move(added);
}

const std::pair<std::string, std::int64_t>* Tokenizer::added_token_at(const std::string& text, std::size_t at) const {
  if (!starts_added_[static_cast<unsigned char>(text[at])]) return nullptr;
  for (const auto& added : added_)
    if (text.compare(at, added.first.size(), added.first) == 0) return &added;
  return nullptr;
}

void Tokenizer::encode_text(const std::string& text, std::vector<std::int64_t>& ids) const {
  for (const std::string& piece : split(text)) {
    const std::vector<std::int64_t> part = encode_piece(piece);
    ids.insert(ids.end(), part.begin(), part.end());
  }
}

std::vector<std::int64_t> Tokenizer::encode(const std::string& text) const {
  std::vector<std::int64_t> ids;
  if (!bpe_) {
    for (const char c : text) ids.push_back(static_cast<unsigned char>(c));
    return ids;
  }
  std::size_t start = 0;  // of the text not yet encoded
  for (std::size_t at = 0; at < text.size();) {
    const auto* added = added_token_at(text, at);
    if (!added) {
      ++at;
      continue;
    }
    encode_text(text.substr(start, at - start), ids);
    ids.push_back(added->second);
    at += added->first.size(), start = at;
  }
  encode_text(text.substr(start), ids);
  return ids;
}

std::string Tokenizer::decode(const std::vector<std::int64_t>& ids) const {
  std::string out;
  for (const std::int64_t id : ids) {
    SUBQ_CHECK(id >= 0 && id < vocab_size(), "tokenizer: id {} is outside the vocabulary [0, {})", id, vocab_size());
    if (!bpe_) {
      out += char(id);
      continue;
    }
    if (is_added_[std::size_t(id)]) {
      out += tokens_[std::size_t(id)];
      continue;
    }
    for (const std::string& ch : characters(tokens_[std::size_t(id)])) {
      const auto it = unicode_to_byte_.find(ch);
      out += it != unicode_to_byte_.end() ? std::string(1, char(it->second)) : ch;
    }
  }
  return out;
}

}  // namespace subq
