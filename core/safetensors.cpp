#include "core/safetensors.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/atomic_file.hpp"
#include "core/check.hpp"

namespace subq {

namespace {

using json = nlohmann::json;

// The upstream library refuses headers above 100 MB; so do we, before allocating anything.
constexpr std::uint64_t kMaxHeaderBytes = 100'000'000;

struct DTypeName {
  const char* name;
  DType dtype;
};
constexpr DTypeName kDTypeNames[] = {
    {"F32", DType::F32}, {"F64", DType::F64}, {"BF16", DType::BF16}, {"F16", DType::F16},   {"I32", DType::I32},
    {"I64", DType::I64}, {"I8", DType::I8},   {"U8", DType::U8},     {"BOOL", DType::Bool}, {"C64", DType::C64}};

std::optional<DType> parse_dtype(const std::string& name) {
  for (const auto& entry : kDTypeNames)
    if (name == entry.name) return entry.dtype;
  return std::nullopt;
}

std::shared_ptr<Storage> map_file(const std::filesystem::path& path) {
  const std::string name = path.string();
  const int fd = ::open(name.c_str(), O_RDONLY | O_CLOEXEC);
  SUBQ_CHECK(fd >= 0, "{}: cannot open: {}", name, std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    SUBQ_FAIL("{}: not a regular file", name);
  }
  const std::size_t size = std::size_t(st.st_size);
  if (size == 0) {
    ::close(fd);
    SUBQ_FAIL("{}: truncated: the file is empty; a safetensors file starts with an 8-byte header length", name);
  }
  // Private and writable: a caller may modify a loaded tensor in place without touching the file.
  void* ptr = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  ::close(fd);
  SUBQ_CHECK(ptr != MAP_FAILED, "{}: cannot map {} bytes: {}", name, size, std::strerror(errno));
  return std::make_shared<Storage>(ptr, size, Device::cpu(), [ptr, size] { ::munmap(ptr, size); });
}

std::uint64_t read_u64_le(const unsigned char* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

Shape parse_shape(const json& j, const std::string& where) {
  SUBQ_CHECK(j.is_array(), "{}: 'shape' must be an array of non-negative integers, found {}", where, j.dump());
  Shape shape;
  for (const json& extent : j) {
    SUBQ_CHECK(extent.is_number_unsigned() || (extent.is_number_integer() && extent.get<std::int64_t>() >= 0),
               "{}: 'shape' must be an array of non-negative integers, found {}", where, j.dump());
    const std::uint64_t e = extent.get<std::uint64_t>();
    SUBQ_CHECK(e < (std::uint64_t(1) << 62), "{}: extent {} in 'shape' is too large", where, e);
    shape.push_back(std::int64_t(e));
  }
  return shape;
}

TensorInfo parse_entry(const std::string& name, const json& entry, std::size_t data_bytes, const std::string& source) {
  const std::string where = fmt::format("{}: tensor '{}'", source, name);
  SUBQ_CHECK(entry.is_object(), "{}: header entry must be an object, found {}", where, entry.dump());
  for (const char* key : {"dtype", "shape", "data_offsets"})
    SUBQ_CHECK(entry.contains(key), "{}: header entry lacks '{}'", where, key);
  SUBQ_CHECK(entry["dtype"].is_string(), "{}: 'dtype' must be a string, found {}", where, entry["dtype"].dump());
  const std::string dtype_text = entry["dtype"].get<std::string>();
  const std::optional<DType> dtype = parse_dtype(dtype_text);
  SUBQ_CHECK(dtype.has_value(), "{}: unsupported dtype '{}' (supported: F32 F64 BF16 F16 I64 I32 U8 BOOL C64)", where,
             dtype_text);
  TensorInfo info{name, *dtype, parse_shape(entry["shape"], where), 0, 0};

  const json& offsets = entry["data_offsets"];
  SUBQ_CHECK(offsets.is_array() && offsets.size() == 2 && offsets[0].is_number_unsigned() &&
                 offsets[1].is_number_unsigned(),
             "{}: 'data_offsets' must be [begin, end] with non-negative integers, found {}", where, offsets.dump());
  const std::uint64_t begin = offsets[0].get<std::uint64_t>(), end = offsets[1].get<std::uint64_t>();
  SUBQ_CHECK(begin <= end, "{}: data_offsets [{}, {}] has begin after end", where, begin, end);
  SUBQ_CHECK(end <= data_bytes, "{}: data_offsets [{}, {}] exceed the data section of {} bytes", where, begin, end,
             data_bytes);
  std::uint64_t expected = dtype_size(*dtype);
  for (std::int64_t extent : info.shape)
    SUBQ_CHECK(!__builtin_mul_overflow(expected, std::uint64_t(extent), &expected),
               "{}: shape {} is too large", where, to_string(info.shape));
  SUBQ_CHECK(expected == end - begin, "{}: shape {} of {} needs {} bytes, data_offsets [{}, {}] hold {}", where,
             to_string(info.shape), dtype_text, expected, begin, end, end - begin);
  info.begin = std::size_t(begin);
  info.end = std::size_t(end);
  return info;
}

std::map<std::string, std::string> parse_metadata(const json& j, const std::string& source) {
  SUBQ_CHECK(j.is_object(), "{}: '__metadata__' must be an object of strings, found {}", source, j.dump());
  std::map<std::string, std::string> metadata;
  for (const auto& [key, value] : j.items()) {
    SUBQ_CHECK(value.is_string(), "{}: '__metadata__' value for '{}' must be a string, found {}", source, key,
               value.dump());
    metadata[key] = value.get<std::string>();
  }
  return metadata;
}

}  // namespace

SafetensorsFile SafetensorsFile::open(const std::filesystem::path& path) { return parse(map_file(path), path.string()); }

SafetensorsFile SafetensorsFile::parse(std::shared_ptr<Storage> bytes, const std::string& source) {
  const auto* base = static_cast<const unsigned char*>(bytes->data());
  const std::size_t size = bytes->bytes();
  SUBQ_CHECK(size >= 8, "{}: truncated: {} bytes, a safetensors file starts with an 8-byte header length", source,
             size);
  const std::uint64_t header_bytes = read_u64_le(base);
  SUBQ_CHECK(header_bytes <= size - 8, "{}: header length {} runs past the end of the file ({} bytes)", source,
             header_bytes, size);
  SUBQ_CHECK(header_bytes <= kMaxHeaderBytes, "{}: header length {} exceeds the limit of {} bytes", source,
             header_bytes, kMaxHeaderBytes);
  SUBQ_CHECK(header_bytes >= 2 && base[8] == '{', "{}: the header is not a JSON object (it must start with '{{')",
             source);

  const char* text = reinterpret_cast<const char*>(base + 8);
  json header = json::parse(text, text + header_bytes, nullptr, /*allow_exceptions=*/false);
  SUBQ_CHECK(!header.is_discarded(), "{}: malformed JSON header ({} bytes)", source, header_bytes);
  SUBQ_CHECK(header.is_object(), "{}: the header is not a JSON object", source);

  SafetensorsFile file;
  file.source_ = source;
  file.bytes_ = std::move(bytes);
  file.data_start_ = 8 + std::size_t(header_bytes);
  const std::size_t data_bytes = size - file.data_start_;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__")
      file.metadata_ = parse_metadata(entry, source);
    else
      file.tensors_.push_back(parse_entry(name, entry, data_bytes, source));
  }
  std::sort(file.tensors_.begin(), file.tensors_.end(),
            [](const TensorInfo& x, const TensorInfo& y) { return std::tie(x.begin, x.end) < std::tie(y.begin, y.end); });
  for (std::size_t i = 0; i < file.tensors_.size(); ++i) {
    const TensorInfo& t = file.tensors_[i];
    if (i > 0) {
      const TensorInfo& prev = file.tensors_[i - 1];
      SUBQ_CHECK(t.begin >= prev.end || t.begin == t.end || prev.begin == prev.end,
                 "{}: tensors '{}' [{}, {}] and '{}' [{}, {}] overlap", source, prev.name, prev.begin, prev.end, t.name,
                 t.begin, t.end);
    }
    file.index_[t.name] = i;
  }
  return file;
}

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<std::string> names;
  for (const auto& t : tensors_) names.push_back(t.name);
  return names;
}

const TensorInfo& SafetensorsFile::info(const std::string& name) const {
  auto it = index_.find(name);
  if (it == index_.end()) {
    std::vector<std::string> all = names();
    if (all.size() > 12) all.resize(12), all.push_back("...");
    SUBQ_FAIL("{}: tensor '{}' not found; the file holds {} tensors: {}", source_, name, tensors_.size(),
              fmt::join(all, ", "));
  }
  return tensors_[it->second];
}

Tensor SafetensorsFile::get(const std::string& name, std::optional<DType> as) const {
  const TensorInfo& t = info(name);
  const std::size_t offset = data_start_ + t.begin;
  Tensor tensor;
  if (offset % dtype_size(t.dtype) == 0) {
    tensor = Tensor::from_storage(bytes_, offset, t.shape, t.dtype);
  } else {  // unaligned in the file: copy out
    tensor = Tensor::empty(t.shape, t.dtype);
    std::memcpy(tensor.raw_data(), static_cast<const char*>(bytes_->data()) + offset, t.end - t.begin);
  }
  return as ? tensor.to(*as) : tensor;
}

Tensor SafetensorsFile::require(const std::string& name, const Shape& shape, std::optional<DType> as) const {
  const TensorInfo& t = info(name);
  SUBQ_CHECK(t.shape == shape, "{}: tensor '{}': expected shape {}, found {}", source_, name, to_string(shape),
             to_string(t.shape));
  return get(name, as);
}

void SafetensorsFile::require_names(const std::vector<std::string>& expected) const {
  std::vector<std::string> missing, unexpected;
  for (const auto& name : expected)
    if (!contains(name)) missing.push_back(name);
  for (const auto& t : tensors_)
    if (std::find(expected.begin(), expected.end(), t.name) == expected.end()) unexpected.push_back(t.name);
  SUBQ_CHECK(missing.empty() && unexpected.empty(), "{}: tensors do not match: missing [{}], unexpected [{}]", source_,
             fmt::join(missing, ", "), fmt::join(unexpected, ", "));
}

std::string safetensors_dtype_name(DType dtype) {
  for (const auto& entry : kDTypeNames)
    if (entry.dtype == dtype) return entry.name;
  SUBQ_FAIL("safetensors has no dtype for {}", dtype_name(dtype));
}

void save_safetensors(const std::filesystem::path& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<Tensor> contiguous;
  std::size_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    SUBQ_CHECK(tensor.defined(), "{}: tensor '{}' is undefined", path.string(), name);
    SUBQ_CHECK(name != "__metadata__" && !header.contains(name), "{}: tensor name '{}' is reserved or repeated",
               path.string(), name);
    Tensor t = tensor.to(Device::cpu()).contiguous();
    const std::size_t bytes = std::size_t(t.numel()) * dtype_size(t.dtype());
    header[name] = {{"dtype", safetensors_dtype_name(t.dtype())}, {"shape", t.shape()}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    contiguous.push_back(std::move(t));
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // data starts 8-byte aligned
  AtomicFile file(path);
  std::ofstream& out = file.stream();
  unsigned char length[8];
  for (int i = 0; i < 8; ++i) length[i] = static_cast<unsigned char>(std::uint64_t(text.size()) >> (8 * i));
  out.write(reinterpret_cast<const char*>(length), 8);
  out.write(text.data(), std::streamsize(text.size()));
  for (const Tensor& t : contiguous)
    out.write(static_cast<const char*>(t.raw_data()), std::streamsize(std::size_t(t.numel()) * dtype_size(t.dtype())));
  file.commit();
}

}  // namespace subq
