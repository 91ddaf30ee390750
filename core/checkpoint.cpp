#include "core/checkpoint.hpp"

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/check.hpp"

namespace subq {

namespace {

// The shard file names of model.safetensors.index.json's weight_map, in first-use order.
std::vector<std::string> shard_names(const std::filesystem::path& index_path) {
  std::ifstream in(index_path);
  SUBQ_CHECK(in.good(), "{}: cannot open", index_path.string());
  const nlohmann::json index = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  SUBQ_CHECK(index.is_object() && index.contains("weight_map") && index["weight_map"].is_object(),
             "{}: expected an object with a weight_map", index_path.string());
  std::vector<std::string> names;
  for (const auto& [tensor, file] : index["weight_map"].items()) {
    SUBQ_CHECK(file.is_string(), "{}: weight_map['{}'] is not a file name", index_path.string(), tensor);
    const std::string name = file.get<std::string>();
    SUBQ_CHECK(name.find('/') == std::string::npos && name.find('\\') == std::string::npos,
               "{}: shard '{}' must be a file in the checkpoint folder", index_path.string(), name);
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  }
  return names;
}

}  // namespace

Checkpoint Checkpoint::open(const std::filesystem::path& dir) {
  Checkpoint c;
  c.dir_ = dir;
  c.config_ = JsonConfig::load(dir / "config.json");
  const auto single = dir / "model.safetensors", index = dir / "model.safetensors.index.json";
  std::vector<std::string> files;
  if (std::filesystem::exists(single))
    files = {"model.safetensors"};
  else if (std::filesystem::exists(index))
    files = shard_names(index);
  else
    SUBQ_FAIL("{}: no model.safetensors or model.safetensors.index.json", dir.string());
  for (const std::string& file : files) {
    c.shards_.push_back(SafetensorsFile::open(dir / file));
    for (const std::string& name : c.shards_.back().names()) c.shard_of_[name] = c.shards_.size() - 1;
  }
  return c;
}

Checkpoint Checkpoint::open_tensors(const std::filesystem::path& safetensors_file) {
  Checkpoint c;
  c.dir_ = safetensors_file;
  c.config_ = JsonConfig::parse("{}", safetensors_file.string());
  c.shards_.push_back(SafetensorsFile::open(safetensors_file));
  for (const std::string& name : c.shards_.back().names()) c.shard_of_[name] = 0;
  return c;
}

const Shape& Checkpoint::shape(const std::string& name) const {
  SUBQ_CHECK(!generate_, "generated checkpoint: the architecture reads the size of '{}' from a checkpoint file, which a "
             "generated one does not have", name);
  const auto it = shard_of_.find(name);
  SUBQ_CHECK(it != shard_of_.end(), "{}: tensor '{}' is missing", dir_.string(), name);
  return shards_[it->second].info(name).shape;
}

Checkpoint Checkpoint::generated(JsonConfig config, Generator generate) {
  Checkpoint c;
  c.dir_ = "(generated)";
  c.config_ = std::move(config);
  c.generate_ = std::move(generate);
  return c;
}

void Checkpoint::save(const std::filesystem::path& dir) const {
  SUBQ_CHECK(generate_, "{}: only a generated checkpoint is saved (this one has its files)", dir_.string());
  std::filesystem::create_directories(dir);
  std::ofstream config(dir / "config.json");
  SUBQ_CHECK(config.good(), "{}: cannot write", (dir / "config.json").string());
  config << config_.dump() << "\n";
  save_safetensors(dir / "model.safetensors", made_, {{"format", "pt"}});
}

Tensor Checkpoint::take(const std::string& name, const Shape& shape, DType dtype) {
  return take_as(name, shape, dtype, TensorRole::Weight).to(device_);
}

Tensor Checkpoint::take_on_cpu(const std::string& name, const Shape& shape, DType dtype) {
  return take_as(name, shape, dtype, TensorRole::Weight);
}

Tensor Checkpoint::take_norm(const std::string& name, const Shape& shape) {
  return take_as(name, shape, DType::F32, TensorRole::NormScale).to(device_);
}

Tensor Checkpoint::take_as(const std::string& name, const Shape& shape, DType dtype, TensorRole role) {
  taken_bytes_ += shape_numel(shape) * std::int64_t(dtype_size(dtype));
  if (generate_) {
    SUBQ_CHECK(!taken_.count(name), "generated checkpoint: tensor '{}' taken twice", name);
    taken_.insert(name);
    made_.emplace_back(name, generate_(name, shape, role).to(dtype));
    return made_.back().second;
  }
  const auto it = shard_of_.find(name);
  SUBQ_CHECK(it != shard_of_.end(), "{}: tensor '{}' is missing (expected shape {})", dir_.string(), name,
             to_string(shape));
  taken_.insert(name);
  return shards_[it->second].require(name, shape, dtype);
}

void Checkpoint::finish() const {
  std::vector<std::string> unused;
  for (const auto& [name, shard] : shard_of_)
    if (!taken_.count(name)) unused.push_back(name);
  SUBQ_CHECK(unused.empty(), "{}: {} tensor(s) that the config does not account for: {}", dir_.string(), unused.size(),
             fmt::join(unused.size() > 8 ? std::vector<std::string>(unused.begin(), unused.begin() + 8) : unused, ", "));
}

}  // namespace subq
