// libFuzzer target: any byte string given as a tokenizer.json either is rejected with subq::Error
// or makes a tokenizer that encodes a sample text, and the fuzzed bytes as a text, to ids it can
// decode (or rejects a piece it has no token for, with subq::Error).
#include <cstdint>
#include <string>

#include "core/error.hpp"
#include "lm/tokenizer.hpp"

namespace {

void round_trip(const subq::Tokenizer& tokenizer, const std::string& text) {
  try {
    const std::vector<std::int64_t> ids = tokenizer.encode(text);
    for (const std::int64_t id : ids)
      if (id < 0 || id >= tokenizer.vocab_size()) __builtin_trap();  // an id the tokenizer cannot decode
    (void)tokenizer.decode(ids);
  } catch (const subq::Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string json(reinterpret_cast<const char*>(data), size);
  try {
    const subq::Tokenizer tokenizer = subq::Tokenizer::parse(json, "fuzz input");
    round_trip(tokenizer, "Call me Ishmael.  Some years ago<|endoftext|> -- 1234 don't\n\t\xc3\xa9");
    round_trip(tokenizer, json);
  } catch (const subq::Error&) {
  }
  return 0;
}
