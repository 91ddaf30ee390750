#pragma once
// The inputs of the evaluation commands: UTF-8 texts, token files and document collections.
// Every error is a subq::Error naming the file (and the line of a jsonl).
#include <cstdint>
#include <string>
#include <vector>

#include "lm/tokenizer.hpp"

namespace subq::tools {

/// The whole file; an error when it cannot be opened.
std::string read_file(const std::string& path);

/// Throws unless `text` is non-empty UTF-8 text: NUL bytes or invalid UTF-8 mean a binary file.
void check_text(const std::string& path, const std::string& text);

/// A .npy array of integers (little-endian int32/int64/uint16/uint32) or raw int32 (.bin).
std::vector<std::int64_t> read_token_file(const std::string& path);
/// The same from the file's bytes; errors name path.
std::vector<std::int64_t> parse_token_file(const std::string& path, const std::string& bytes);

/// The tokenizer for a model's texts: tokenizer_json if given, else the tokenizer.json in
/// model_dir, else bytes; an error when it does not fit the model's vocabulary.
Tokenizer text_tokenizer(const std::string& model_dir, const std::string& tokenizer_json, std::int64_t vocab_size);

struct TextDocument {
  std::string name;  // "FILE:LINE" for a jsonl, the file name for a folder's
  std::string text;
};

/// The documents of a .jsonl file (one JSON object a line with a string "text"; blank lines
/// skipped) or of a folder (each .txt file in it, by name). Each text is checked as UTF-8.
std::vector<TextDocument> read_documents(const std::string& path);
/// The documents of a .jsonl file's text; errors name path and the line.
std::vector<TextDocument> parse_jsonl_documents(const std::string& path, const std::string& text);

}  // namespace subq::tools
