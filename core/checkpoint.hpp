#pragma once
// A Hugging Face style checkpoint folder: config.json plus model.safetensors, or shards listed
// by model.safetensors.index.json. A loader takes every tensor it expects by name and shape;
// finish() then rejects tensors nobody took, so a checkpoint that does not match its config
// (more layers, another architecture) is an error rather than silently half-loaded.
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "config.hpp"
#include "safetensors.hpp"

namespace subq {

/// What a tensor is to its layer, for a generated checkpoint's initialisation.
enum class TensorRole {
  Weight,     // anything else
  NormScale,  // the weight of a normalisation (RMS, layer or group norm): starts at one
};

/// The q8_0 / q4_0 matrix (rows, n) that `file` stores as the codes `name` ((rows, n) int8 for
/// q8_0, (rows, n / 2) uint8 for q4_0, each block's bytes as dtype.hpp lays them out) and the
/// float16 scales `name.scales` (rows, n / 32), packed into its block format. Codes or scales
/// that do not match the scheme, the shape or each other, and a scale that is not finite, are
/// errors naming the file and tensor.
Tensor read_quantized_matrix(const SafetensorsFile& file, const std::string& name, DType scheme, const Shape& shape);
/// The inverse: a contiguous q8_0 / q4_0 matrix as the files store it, its codes and its scales.
std::pair<Tensor, Tensor> quantized_codes_and_scales(const Tensor& blocks);

class Checkpoint {
 public:
  /// Opens dir/config.json and the safetensors file(s); errors name the file.
  static Checkpoint open(const std::filesystem::path& dir);

  /// One safetensors file and no config (a layer's weights, as the conformance fixtures store them).
  static Checkpoint open_tensors(const std::filesystem::path& safetensors_file);

  using Generator = std::function<Tensor(const std::string& name, const Shape& shape, TensorRole role)>;
  /// A checkpoint without files: each take() makes its tensor with `generate` (say, a random
  /// initialisation) and keeps it, so that save() can write what a loader asked for.
  static Checkpoint generated(JsonConfig config, Generator generate);
  /// Writes dir/config.json and dir/model.safetensors (the tensors made so far, in order); for
  /// generated checkpoints only.
  void save(const std::filesystem::path& dir) const;

  const JsonConfig& config() const { return config_; }
  const std::filesystem::path& dir() const { return dir_; }
  bool contains(const std::string& name) const { return shard_of_.count(name) != 0; }
  /// The stored shape of a tensor, for sizes a config leaves implicit; an error when it is missing.
  const Shape& shape(const std::string& name) const;
  /// The device take() puts tensors on; the CPU unless set.
  void place_on(Device device) { device_ = device; }
  Device device() const { return device_; }
  /// The tensor, converted to dtype and put on device(), after checking its shape; the error
  /// names file, tensor, expected and found shape. A copy of its own, not a view of the file's
  /// mapping: these small tensors then do not keep the mapping alive (see take_matrix).
  Tensor take(const std::string& name, const Shape& shape, DType dtype = DType::F32);
  /// As take(), but on the CPU whatever device() is: for a weight the loader transforms on the
  /// host before placing it. Like take()'s, the tensor is the caller's own, not a view of the file.
  Tensor take_on_cpu(const std::string& name, const Shape& shape, DType dtype = DType::F32);
  /// take() for the weight of a normalisation, float32 (a generated checkpoint makes it ones).
  Tensor take_norm(const std::string& name, const Shape& shape);

  /// The format take_matrix() holds weight matrices in: float32 (the default), bfloat16, float16,
  /// q8_0 or q4_0; std::nullopt keeps each as stored (a float64 one as float32). Which tensors are
  /// matrices is the loader's choice: those that only linear() and embedding() read, the large
  /// projections, MLPs, experts, embeddings and head. A q format falls back to float32 for a
  /// matrix whose rows are not whole blocks of 32.
  void hold_matrices_as(std::optional<DType> format);
  /// take() for a weight matrix (rows, n), held in the matrix format, zero-copy where the file
  /// stores it so. A quantised checkpoint (config.json's quantization_config, see README) stores
  /// a matrix as its codes, `name` ((rows, n) int8 for q8_0, (rows, n / 2) uint8 for q4_0, the
  /// bytes of each block as in dtype.hpp), and its float16 scales `name.scales` (rows, n / 32);
  /// either not matching the other, or the scheme, is an error naming the tensor.
  Tensor take_matrix(const std::string& name, const Shape& shape);
  /// The matrices take_matrix() gave out so far, by name, as held (on the CPU device).
  const std::map<std::string, Tensor>& matrices() const { return matrices_; }
  /// A tensor of the files as stored (for a copy of the checkpoint); an error when missing.
  Tensor stored(const std::string& name) const;
  /// Every tensor name in the files, in file order.
  std::vector<std::string> names() const;
  /// The most bytes take() may hold: a tensor that would bring taken_bytes() over it is refused
  /// before it is made or read, the error naming it (a generated checkpoint whose config asks for
  /// terabytes stops at its first tensor too many, in no time). No limit unless set.
  void limit_memory(std::int64_t bytes) { memory_limit_ = bytes; }
  /// The bytes the files' tensors will take when loaded: each as stored, the matrices (every 2-D
  /// tensor, an overestimate where a loader holds one as float32) in the matrix format, float64
  /// as float32. For the memory check before loading; 0 for a generated checkpoint.
  std::int64_t estimated_bytes() const;
  /// Throws, naming them, when tensors remain that no take() asked for.
  void finish() const;
  /// Bytes of the tensors taken so far, in the dtypes they were taken as.
  std::int64_t taken_bytes() const { return taken_bytes_; }

 private:
  Tensor take_as(const std::string& name, const Shape& shape, DType dtype, TensorRole role);
  // The stored matrix, as stored (a quantised one packed into its block format).
  Tensor stored_matrix(const std::string& name, const Shape& shape);
  std::optional<DType> quantization_scheme() const;  // config.json's, read once by open()

  std::filesystem::path dir_;
  JsonConfig config_;
  std::vector<SafetensorsFile> shards_;
  std::map<std::string, std::size_t> shard_of_;
  std::set<std::string> taken_;
  std::int64_t taken_bytes_ = 0;
  std::int64_t memory_limit_ = std::numeric_limits<std::int64_t>::max();
  Generator generate_;
  Device device_;
  std::optional<DType> matrix_format_ = DType::F32;
  std::optional<DType> scheme_;  // a quantised checkpoint's q format
  std::vector<std::pair<std::string, Tensor>> made_;
  std::map<std::string, Tensor> matrices_;
};

}  // namespace subq
