#pragma once
// safetensors checkpoints: an 8-byte little-endian header length, a JSON header
// {"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}, then the data.
// Files are memory-mapped; tensors are zero-copy views of the mapping when aligned. Every way a
// file can be malformed is an Error naming the file and what is wrong; nothing is read out of bounds.
#include <cstddef>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tensor.hpp"

namespace subq {

struct TensorInfo {
  std::string name;
  DType dtype;
  Shape shape;
  std::size_t begin;  // byte offsets into the data section
  std::size_t end;
};

class SafetensorsFile {
 public:
  /// Maps and validates the file; throws subq::Error naming the file and the defect.
  static SafetensorsFile open(const std::filesystem::path& path);
  /// Validates an in-memory image (the fuzz target's entry point); `source` names it in errors.
  static SafetensorsFile parse(std::shared_ptr<Storage> bytes, const std::string& source);

  const std::string& source() const { return source_; }
  /// Tensor names in file order (ascending data offset).
  std::vector<std::string> names() const;
  bool contains(const std::string& name) const { return index_.count(name) != 0; }
  const TensorInfo& info(const std::string& name) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  /// The tensor as stored, zero-copy where aligned. With `as`, converted to that dtype
  /// (e.g. DType::F32 widens bf16/f16).
  Tensor get(const std::string& name, std::optional<DType> as = std::nullopt) const;
  /// get(), after checking the shape; the error names file, tensor, expected and found.
  Tensor require(const std::string& name, const Shape& shape, std::optional<DType> as = std::nullopt) const;
  /// Throws when a name in `expected` is absent or a tensor in the file is not in `expected`.
  void require_names(const std::vector<std::string>& expected) const;

 private:
  std::string source_;
  std::shared_ptr<Storage> bytes_;  // the whole file
  std::size_t data_start_ = 0;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, std::size_t> index_;
  std::map<std::string, std::string> metadata_;
};

/// Writes tensors (any device, any layout) in file order as given, with optional metadata.
void save_safetensors(const std::filesystem::path& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

/// Name as safetensors spells it ("F32", "BF16", "BOOL", ...).
std::string safetensors_dtype_name(DType dtype);

}  // namespace subq
