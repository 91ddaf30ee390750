#pragma once
// The one exception type of subq. Every message says where (file, tensor, option), what was
// expected and what was found, so that a user can fix the input without reading the source.
#include <stdexcept>
#include <string>

namespace subq {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace subq
