#include "core/config.hpp"

#include <fstream>
#include <limits>
#include <optional>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/check.hpp"

namespace subq {

struct JsonConfig::Impl {
  std::string source;
  nlohmann::json value;

  const nlohmann::json& at(const std::string& key) const {
    SUBQ_CHECK(value.is_object() && value.contains(key), "{}: missing key '{}'", source, key);
    return value.at(key);
  }
  [[noreturn]] void wrong_type(const std::string& key, const char* expected) const {
    SUBQ_FAIL("{}: key '{}': expected {}, found {}", source, key, expected, value.at(key).dump());
  }
};

namespace {

// A number, or Python's json encoding of a non-finite float as transformers writes it:
// {"__float__": "Infinity"} (also "-Infinity", "NaN").
std::optional<double> as_double(const nlohmann::json& v) {
  if (v.is_number()) return v.get<double>();
  if (!v.is_object() || v.size() != 1 || !v.contains("__float__") || !v["__float__"].is_string()) return std::nullopt;
  const std::string text = v["__float__"].get<std::string>();
  if (text == "Infinity") return std::numeric_limits<double>::infinity();
  if (text == "-Infinity") return -std::numeric_limits<double>::infinity();
  if (text == "NaN") return std::numeric_limits<double>::quiet_NaN();
  return std::nullopt;
}

}  // namespace

JsonConfig::JsonConfig() : impl_(std::make_unique<Impl>()) {}
JsonConfig::~JsonConfig() = default;
JsonConfig::JsonConfig(const JsonConfig& other) : impl_(std::make_unique<Impl>(*other.impl_)) {}
JsonConfig& JsonConfig::operator=(const JsonConfig& other) {
  *impl_ = *other.impl_;
  return *this;
}

JsonConfig JsonConfig::load(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  SUBQ_CHECK(in.good(), "{}: cannot open", path.string());
  std::stringstream text;
  text << in.rdbuf();
  return parse(text.str(), path.string());
}

JsonConfig JsonConfig::parse(const std::string& text, const std::string& source) {
  JsonConfig config;
  config.impl_->source = source;
  config.impl_->value = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  SUBQ_CHECK(!config.impl_->value.is_discarded(), "{}: malformed JSON", source);
  SUBQ_CHECK(config.impl_->value.is_object(), "{}: expected a JSON object at the top level", source);
  return config;
}

const std::string& JsonConfig::source() const { return impl_->source; }
bool JsonConfig::has(const std::string& key) const { return impl_->value.contains(key); }
bool JsonConfig::is_null(const std::string& key) const { return !has(key) || impl_->value.at(key).is_null(); }
bool JsonConfig::is_array(const std::string& key) const { return has(key) && impl_->value.at(key).is_array(); }

JsonConfig JsonConfig::child(const std::string& key) const {
  const auto& v = impl_->at(key);
  if (!v.is_object()) impl_->wrong_type(key, "an object");
  JsonConfig config;
  config.impl_->source = impl_->source + ":" + key;
  config.impl_->value = v;
  return config;
}

std::int64_t JsonConfig::get_int(const std::string& key) const {
  const auto& v = impl_->at(key);
  if (!v.is_number_integer()) impl_->wrong_type(key, "an integer");
  return v.get<std::int64_t>();
}

double JsonConfig::get_double(const std::string& key) const {
  const std::optional<double> x = as_double(impl_->at(key));
  if (!x) impl_->wrong_type(key, "a number");
  return *x;
}

bool JsonConfig::get_bool(const std::string& key) const {
  const auto& v = impl_->at(key);
  if (!v.is_boolean()) impl_->wrong_type(key, "true or false");
  return v.get<bool>();
}

std::string JsonConfig::get_string(const std::string& key) const {
  const auto& v = impl_->at(key);
  if (!v.is_string()) impl_->wrong_type(key, "a string");
  return v.get<std::string>();
}

std::vector<std::int64_t> JsonConfig::get_ints(const std::string& key) const {
  const auto& v = impl_->at(key);
  std::vector<std::int64_t> out;
  if (!v.is_array()) impl_->wrong_type(key, "an array of integers");
  for (const auto& x : v) {
    if (!x.is_number_integer()) impl_->wrong_type(key, "an array of integers");
    out.push_back(x.get<std::int64_t>());
  }
  return out;
}

std::vector<std::string> JsonConfig::get_strings(const std::string& key) const {
  const auto& v = impl_->at(key);
  std::vector<std::string> out;
  if (!v.is_array()) impl_->wrong_type(key, "an array of strings");
  for (const auto& x : v) {
    if (!x.is_string()) impl_->wrong_type(key, "an array of strings");
    out.push_back(x.get<std::string>());
  }
  return out;
}

std::vector<double> JsonConfig::get_doubles(const std::string& key) const {
  const auto& v = impl_->at(key);
  std::vector<double> out;
  if (!v.is_array()) impl_->wrong_type(key, "an array of numbers");
  for (const auto& element : v) {
    const std::optional<double> x = as_double(element);
    if (!x) impl_->wrong_type(key, "an array of numbers");
    out.push_back(*x);
  }
  return out;
}

// A key that is absent or null takes the fallback; a present key of the wrong type is an error.
#define SUBQ_WITH_FALLBACK(type, getter)                                              \
  type JsonConfig::getter(const std::string& key, type fallback) const {              \
    if (!has(key) || impl_->value.at(key).is_null()) return fallback;                 \
    return getter(key);                                                               \
  }
SUBQ_WITH_FALLBACK(std::int64_t, get_int)
SUBQ_WITH_FALLBACK(double, get_double)
SUBQ_WITH_FALLBACK(bool, get_bool)
#undef SUBQ_WITH_FALLBACK

std::string JsonConfig::get_string(const std::string& key, const std::string& fallback) const {
  if (!has(key) || impl_->value.at(key).is_null()) return fallback;
  return get_string(key);
}

std::string JsonConfig::dump() const { return impl_->value.dump(1); }

}  // namespace subq
