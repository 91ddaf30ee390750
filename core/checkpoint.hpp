#pragma once
// A Hugging Face style checkpoint folder: config.json plus model.safetensors, or shards listed
// by model.safetensors.index.json. A loader takes every tensor it expects by name and shape;
// finish() then rejects tensors nobody took, so a checkpoint that does not match its config
// (more layers, another architecture) is an error rather than silently half-loaded.
#include <filesystem>
#include <functional>
#include <map>
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
  /// names file, tensor, expected and found shape.
  Tensor take(const std::string& name, const Shape& shape, DType dtype = DType::F32);
  /// As take(), but on the CPU whatever device() is: for a weight the loader transforms on the
  /// host before placing it.
  Tensor take_on_cpu(const std::string& name, const Shape& shape, DType dtype = DType::F32);
  /// take() for the weight of a normalisation, float32 (a generated checkpoint makes it ones).
  Tensor take_norm(const std::string& name, const Shape& shape);
  /// Throws, naming them, when tensors remain that no take() asked for.
  void finish() const;
  /// Bytes of the tensors taken so far, in the dtypes they were taken as.
  std::int64_t taken_bytes() const { return taken_bytes_; }

 private:
  Tensor take_as(const std::string& name, const Shape& shape, DType dtype, TensorRole role);

  std::filesystem::path dir_;
  JsonConfig config_;
  std::vector<SafetensorsFile> shards_;
  std::map<std::string, std::size_t> shard_of_;
  std::set<std::string> taken_;
  std::int64_t taken_bytes_ = 0;
  Generator generate_;
  Device device_;
  std::vector<std::pair<std::string, Tensor>> made_;
};

}  // namespace subq
