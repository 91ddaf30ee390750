#pragma once
// Text to token ids and back: raw UTF-8 bytes (byte-level models), or the byte-level BPE of
// GPT-2 / GPT-NeoX style Hugging Face tokenizer.json files (model.type "BPE" with vocab and
// merges, ByteLevel pre-tokenizer): text split by GPT-2's pattern (contractions, letters, numbers,
// other symbols, whitespace, each with an optional leading space), bytes mapped to printable
// characters, pieces merged by rank. The file's added_tokens ("<|endoftext|>", NeoX's runs of
// spaces) are cut out of the text first, longest match leftmost, as transformers does; their
// lstrip/rstrip/single_word options are not applied.
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace subq {

class Tokenizer {
 public:
  /// Each byte is its own token (vocabulary 256).
  static Tokenizer bytes();
  /// A tokenizer.json; errors name the file and what is missing.
  static Tokenizer load(const std::filesystem::path& tokenizer_json);
  /// The same from the file's text; errors name `source`.
  static Tokenizer parse(const std::string& json, const std::string& source);

  std::int64_t vocab_size() const;
  std::vector<std::int64_t> encode(const std::string& text) const;
  /// The text of the ids; an id outside the vocabulary is an error naming it.
  std::string decode(const std::vector<std::int64_t>& ids) const;

 private:
  std::vector<std::int64_t> encode_piece(const std::string& piece) const;
  void add_tokens(std::vector<std::pair<std::string, std::int64_t>> added);
  void encode_text(const std::string& text, std::vector<std::int64_t>& ids) const;  // without added tokens
  /// The added token starting at text[at], longest first; nullptr if none.
  const std::pair<std::string, std::int64_t>* added_token_at(const std::string& text, std::size_t at) const;

  bool bpe_ = false;
  std::unordered_map<std::string, std::int64_t> vocab_;
  std::vector<std::string> tokens_;                         // id -> token text (mapped bytes)
  std::map<std::pair<std::string, std::string>, int> ranks_;  // merge -> priority
  std::string byte_to_unicode_[256];                        // GPT-2's printable stand-in of each byte
  std::unordered_map<std::string, unsigned char> unicode_to_byte_;
  std::vector<std::pair<std::string, std::int64_t>> added_;  // content, id; longest first
  std::vector<bool> is_added_;                              // by id: decoded as its content
  bool starts_added_[256] = {};                              // first bytes of the added tokens
};

}  // namespace subq
