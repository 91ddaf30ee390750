#pragma once
// A model's config.json (or a fixture's meta.json): typed access by key, with errors that name
// the file, the key, the expected type and what was found.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace subq {

class JsonConfig {
 public:
  JsonConfig();
  ~JsonConfig();
  JsonConfig(const JsonConfig&);
  JsonConfig& operator=(const JsonConfig&);

  static JsonConfig load(const std::filesystem::path& path);
  /// Parses text; `source` names it in errors.
  static JsonConfig parse(const std::string& text, const std::string& source);

  const std::string& source() const;
  bool has(const std::string& key) const;
  /// True when the key is absent or null.
  bool is_null(const std::string& key) const;
  /// True when the key holds an array.
  bool is_array(const std::string& key) const;
  /// The value at key, which must be an object; dotted keys are not interpreted.
  JsonConfig child(const std::string& key) const;

  std::int64_t get_int(const std::string& key) const;
  double get_double(const std::string& key) const;  // integers are accepted
  bool get_bool(const std::string& key) const;
  std::string get_string(const std::string& key) const;
  std::vector<std::int64_t> get_ints(const std::string& key) const;
  std::vector<double> get_doubles(const std::string& key) const;
  std::vector<std::string> get_strings(const std::string& key) const;

  std::int64_t get_int(const std::string& key, std::int64_t fallback) const;
  double get_double(const std::string& key, double fallback) const;
  bool get_bool(const std::string& key, bool fallback) const;
  std::string get_string(const std::string& key, const std::string& fallback) const;

  /// The whole document as JSON text.
  std::string dump() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace subq
