#include "core/atomic_file.hpp"

#include <unistd.h>

#include <string>

#include "core/check.hpp"

namespace subq {

AtomicFile::AtomicFile(std::filesystem::path path)
    : path_(std::move(path)),
      partial_(path_.string() + ".partial-" + std::to_string(::getpid())),
      out_(partial_, std::ios::binary | std::ios::trunc) {
  SUBQ_CHECK(out_.good(), "{}: cannot open for writing", path_.string());
}

AtomicFile::~AtomicFile() {
  if (committed_) return;
  out_.close();
  std::error_code ignored;  // the temporary may be gone already; nothing to report from a destructor
  std::filesystem::remove(partial_, ignored);
}

void AtomicFile::commit() {
  out_.close();
  SUBQ_CHECK(!out_.fail(), "{}: write failed (disk full?)", path_.string());
  std::error_code error;
  std::filesystem::rename(partial_, path_, error);
  SUBQ_CHECK(!error, "{}: cannot replace it: {}", path_.string(), error.message());
  committed_ = true;
}

void write_file_atomically(const std::filesystem::path& path, std::string_view bytes) {
  AtomicFile file(path);
  file.stream().write(bytes.data(), std::streamsize(bytes.size()));
  file.commit();
}

}  // namespace subq
