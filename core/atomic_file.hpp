#pragma once
// Files written whole or not at all. The writes go to a temporary beside the file (PATH.partial-
// PID), which commit() flushes, checks and renames over PATH (atomic within a file system);
// destroyed uncommitted (an error, or an interruption unwinding), the writer removes its
// temporary. So PATH holds either what it held before or the complete new file, never a part.
#include <filesystem>
#include <fstream>
#include <string_view>

namespace subq {

class AtomicFile {
 public:
  /// Opens the temporary; an error naming path when it cannot.
  explicit AtomicFile(std::filesystem::path path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  std::ofstream& stream() { return out_; }
  /// Closes the temporary and renames it to path; an error naming path when a write failed.
  void commit();

 private:
  std::filesystem::path path_, partial_;
  std::ofstream out_;
  bool committed_ = false;
};

/// bytes as the whole of the file at path, through an AtomicFile.
void write_file_atomically(const std::filesystem::path& path, std::string_view bytes);

}  // namespace subq
