// libFuzzer target: any byte string given as a .jsonl of documents either is rejected with
// subq::Error or gives documents whose texts are non-empty UTF-8 without NUL bytes.
#include <cstdint>
#include <string>

#include "core/error.hpp"
#include "tools/ppl/inputs.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const auto documents =
        subq::tools::parse_jsonl_documents("fuzz input", std::string(reinterpret_cast<const char*>(data), size));
    for (const subq::tools::TextDocument& d : documents) subq::tools::check_text(d.name, d.text);  // throws: a bug
  } catch (const subq::Error&) {
  }
  return 0;
}
