#include "core/checkpoint.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/atomic_file.hpp"
#include "core/check.hpp"
#include "core/memory.hpp"
#include "core/weight_rows.hpp"

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
  c.scheme_ = c.quantization_scheme();
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
  write_file_atomically(dir / "config.json", config_.dump() + "\n");
  save_safetensors(dir / "model.safetensors", made_, {{"format", "pt"}});
}

namespace {

// A tensor that is not a matrix, copied off the file's mapping: the small tensors then keep no
// part of it alive, so that a checkpoint whose matrices are converted on loading lets its
// mapping (all the file's pages read) go once loaded.
Tensor detached(const Tensor& t, Device device) { return device.is_cpu() ? t.clone() : t.to(device); }

// A matrix held for the model's life: allocated to its size, not rounded up to the reuse
// cache's huge-page multiples (a 2.5 MiB matrix would hold 4 MiB resident).
Tensor held_tensor(const Shape& shape, DType dtype) {
  const std::size_t bytes = storage_bytes(dtype, shape_numel(shape));
  void* ptr = std::aligned_alloc(64, (bytes + 64 + 63) / 64 * 64);
  SUBQ_CHECK(ptr != nullptr, "out of memory allocating {} bytes", bytes);
  return Tensor::from_storage(std::make_shared<Storage>(ptr, bytes, Device::cpu(), [ptr] { std::free(ptr); }), 0, shape,
                              dtype);
}

// Matrix m (rows, n) in `format`, in a held tensor of its own.
Tensor held_as(const Tensor& m, DType format) {
  Tensor held = held_tensor(m.shape(), format);
  if (m.dtype() == format) {
    held.copy_from(m.contiguous());
  } else {
    const Tensor rows = m.to(DType::F32).contiguous();
    detail::quantize_rows(format, rows.data<float>(), m.size(1), m.size(0), held.raw_data());
  }
  return held;
}

}  // namespace

Tensor Checkpoint::take(const std::string& name, const Shape& shape, DType dtype) {
  return detached(take_as(name, shape, dtype, TensorRole::Weight), device_);
}

Tensor Checkpoint::take_on_cpu(const std::string& name, const Shape& shape, DType dtype) {
  return detached(take_as(name, shape, dtype, TensorRole::Weight), Device::cpu());
}

Tensor Checkpoint::take_norm(const std::string& name, const Shape& shape) {
  return detached(take_as(name, shape, DType::F32, TensorRole::NormScale), device_);
}

Tensor Checkpoint::take_as(const std::string& name, const Shape& shape, DType dtype, TensorRole role) {
  const std::int64_t bytes = std::int64_t(storage_bytes(dtype, shape_numel(shape)));
  check_memory(fmt::format("{}: the weights up to tensor '{}' {} {}", dir_.string(), name, to_string(shape), dtype_name(dtype)),
               taken_bytes_ + bytes, memory_limit_);
  taken_bytes_ += bytes;
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

void Checkpoint::hold_matrices_as(std::optional<DType> format) {
  SUBQ_CHECK(!format || detail::is_weight_format(*format),
             "{}: weight matrices cannot be held as {}: expected float32, bfloat16, float16, q8_0 or q4_0",
             dir_.string(), dtype_name(*format));
  matrix_format_ = format;
}

std::optional<DType> Checkpoint::quantization_scheme() const {
  if (config_.is_null("quantization_config")) return std::nullopt;
  const JsonConfig q = config_.child("quantization_config");
  const std::string method = q.get_string("quant_method"), scheme = q.get_string("scheme");
  SUBQ_CHECK(method == "subq", "{}: quantization_config.quant_method '{}': only subq's own block formats are read",
             config_.source(), method);
  SUBQ_CHECK(q.get_int("block_size") == 32, "{}: quantization_config.block_size {}: the q formats have blocks of 32",
             config_.source(), q.get_int("block_size"));
  if (scheme == "q8_0") return DType::Q8_0;
  if (scheme == "q4_0") return DType::Q4_0;
  SUBQ_FAIL("{}: quantization_config.scheme '{}': unknown scheme, expected q8_0 or q4_0", config_.source(), scheme);
}

namespace {

// Bytes of codes in a block of 32 and the shape of a (rows, n) matrix's codes in the files.
std::size_t code_bytes(DType scheme) { return scheme == DType::Q8_0 ? 32 : 16; }
Shape codes_shape(DType scheme, std::int64_t rows, std::int64_t n) { return {rows, scheme == DType::Q8_0 ? n : n / 2}; }

}  // namespace

Tensor read_quantized_matrix(const SafetensorsFile& file, const std::string& name, DType scheme, const Shape& shape) {
  const std::string scales_name = name + ".scales", where = file.source() + ": tensor '" + name + "'";
  SUBQ_CHECK(is_quantized(scheme) && shape.size() == 2, "{}: read as {} {}: expected a q scheme and a matrix", where,
             dtype_name(scheme), to_string(shape));
  const std::int64_t rows = shape[0], n = shape[1], blocks = n / 32;
  const bool q8 = scheme == DType::Q8_0;
  const DType code_type = file.info(name).dtype;
  SUBQ_CHECK(n % 32 == 0, "{}: stored as {} codes but its rows of {} are not whole blocks of 32", where,
             dtype_name(code_type), n);
  SUBQ_CHECK(code_type == (q8 ? DType::I8 : DType::U8), "{}: {} codes are {}, found {}", where, dtype_name(scheme),
             q8 ? "int8" : "uint8", dtype_name(code_type));
  const Tensor codes = file.require(name, codes_shape(scheme, rows, n));
  SUBQ_CHECK(file.contains(scales_name), "{}: its scales '{}' are missing", where, scales_name);
  SUBQ_CHECK(file.info(scales_name).dtype == DType::F16, "{}: scales '{}' are {}, expected float16", where, scales_name,
             dtype_name(file.info(scales_name).dtype));
  const Tensor scales = file.require(scales_name, {rows, blocks}).contiguous();
  const std::size_t codes_per_block = code_bytes(scheme);
  Tensor packed = held_tensor(shape, scheme);
  auto* out = static_cast<std::byte*>(packed.raw_data());
  const auto* in_codes = static_cast<const std::byte*>(codes.raw_data());
  const float16* in_scales = scales.data<float16>();
  for (std::int64_t b = 0; b < rows * blocks; ++b, out += 2 + codes_per_block) {
    SUBQ_CHECK(std::isfinite(to_float(in_scales[b])), "{}: scale {} of '{}' is {}", where, b, scales_name,
               to_float(in_scales[b]));
    std::memcpy(out, &in_scales[b], 2);
    std::memcpy(out + 2, in_codes + b * codes_per_block, codes_per_block);
  }
  return packed;
}

std::pair<Tensor, Tensor> quantized_codes_and_scales(const Tensor& blocks) {
  const DType scheme = blocks.dtype();
  SUBQ_CHECK(is_quantized(scheme) && blocks.dim() == 2 && blocks.is_contiguous(),
             "quantized_codes_and_scales: expected a contiguous q8_0 or q4_0 matrix, found {} {}", dtype_name(scheme),
             to_string(blocks.shape()));
  const std::int64_t rows = blocks.size(0), n = blocks.size(1), count = rows * n / 32;
  const std::size_t codes_per_block = code_bytes(scheme);
  Tensor codes = Tensor::empty(codes_shape(scheme, rows, n), scheme == DType::Q8_0 ? DType::I8 : DType::U8);
  Tensor scales = Tensor::empty({rows, n / 32}, DType::F16);
  const auto* in = static_cast<const std::byte*>(blocks.raw_data());
  auto* out_codes = static_cast<std::byte*>(codes.raw_data());
  for (std::int64_t b = 0; b < count; ++b, in += 2 + codes_per_block) {
    std::memcpy(scales.data<float16>() + b, in, 2);
    std::memcpy(out_codes + std::size_t(b) * codes_per_block, in + 2, codes_per_block);
  }
  return {codes, scales};
}

Tensor Checkpoint::stored_matrix(const std::string& name, const Shape& shape) {
  const auto it = shard_of_.find(name);
  SUBQ_CHECK(it != shard_of_.end(), "{}: tensor '{}' is missing (expected shape {})", dir_.string(), name,
             to_string(shape));
  const SafetensorsFile& file = shards_[it->second];
  const DType stored = file.info(name).dtype;
  if (!scheme_ || (stored != DType::I8 && stored != DType::U8)) return take_as(name, shape, stored, {});
  Tensor packed = read_quantized_matrix(file, name, *scheme_, shape);
  taken_.insert(name), taken_.insert(name + ".scales");
  taken_bytes_ += std::int64_t(storage_bytes(packed.dtype(), packed.numel()));
  return packed;
}

Tensor Checkpoint::take_matrix(const std::string& name, const Shape& shape) {
  SUBQ_CHECK(shape.size() == 2, "take_matrix: '{}' of shape {} is not a matrix", name, to_string(shape));
  std::optional<DType> format = matrix_format_;
  const bool fallback = format && is_quantized(*format) && shape[1] % dtype_block(*format) != 0;
  if (fallback) format = DType::F32;
  Tensor m = generate_ ? take_as(name, shape, DType::F32, TensorRole::Weight) : stored_matrix(name, shape);
  const std::int64_t stored_bytes = std::int64_t(storage_bytes(m.dtype(), m.numel()));  // counted as taken
  if (!format) format = m.dtype() == DType::F64 ? DType::F32 : m.dtype();
  // Where the other matrices are converted or packed, a small one left as stored would keep the
  // whole mapping (every page loading read) alive: it is copied off it.
  const bool copy_off = !generate_ && (fallback || scheme_) && !is_quantized(m.dtype());
  if (m.dtype() != *format || copy_off) {
    try {
      m = held_as(m, *format);
    } catch (const Error& e) {
      SUBQ_FAIL("{}: tensor '{}' to {}: {}", dir_.string(), name, dtype_name(*format), e.what());
    }
  }
  taken_bytes_ += std::int64_t(storage_bytes(m.dtype(), m.numel())) - stored_bytes;  // as held instead
  if (device_.is_cpu()) matrices_[name] = m;
  return m.to(device_);
}

Tensor Checkpoint::stored(const std::string& name) const {
  const auto it = shard_of_.find(name);
  SUBQ_CHECK(it != shard_of_.end(), "{}: tensor '{}' is missing", dir_.string(), name);
  return shards_[it->second].get(name);
}

std::int64_t Checkpoint::estimated_bytes() const {
  double bytes = 0;  // in double: headers may claim sizes whose sum overflows
  for (const SafetensorsFile& shard : shards_)
    for (const std::string& name : shard.names()) {
      const TensorInfo& info = shard.info(name);
      DType held = info.dtype == DType::F64 ? DType::F32 : info.dtype;
      if (info.shape.size() == 2 && matrix_format_ && !name.ends_with(".scales"))
        held = is_quantized(*matrix_format_) && info.shape[1] % dtype_block(*matrix_format_) != 0 ? DType::F32
                                                                                                   : *matrix_format_;
      bytes += double(storage_bytes(held, shape_numel(info.shape)));
    }
  return saturated_bytes(bytes);
}

std::vector<std::string> Checkpoint::names() const {
  std::vector<std::string> all;
  for (const SafetensorsFile& shard : shards_)
    for (const std::string& name : shard.names()) all.push_back(name);
  return all;
}

void Checkpoint::finish() const {
  std::vector<std::string> unused;
  for (const auto& [name, shard] : shard_of_)
    if (!taken_.count(name)) unused.push_back(name);
  SUBQ_CHECK(unused.empty(), "{}: {} tensor(s) that the config does not account for: {}", dir_.string(), unused.size(),
             fmt::join(unused.size() > 8 ? std::vector<std::string>(unused.begin(), unused.begin() + 8) : unused, ", "));
}

}  // namespace subq
