// libFuzzer target: any byte string given as a token file (.npy or raw int32) either is rejected
// with subq::Error or gives its ids, every data byte read within the input (ASan checks).
#include <cstdint>
#include <string>

#include "core/error.hpp"
#include "tools/ppl/inputs.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const std::vector<std::int64_t> ids =
        subq::tools::parse_token_file("fuzz input", std::string(reinterpret_cast<const char*>(data), size));
    if (ids.empty() || ids.size() > size) __builtin_trap();  // more ids than bytes: read past the input
  } catch (const subq::Error&) {
  }
  return 0;
}
