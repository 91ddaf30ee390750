#pragma once
// The source tree the tests read fixtures from: $SUBQ_SOURCE_DIR when set (a build run
// elsewhere), else the tree this binary was configured from.
#include <cstdlib>
#include <filesystem>

inline std::filesystem::path source_dir() {
  const char* env = std::getenv("SUBQ_SOURCE_DIR");
  return env && *env ? std::filesystem::path(env) : std::filesystem::path(SUBQ_SOURCE_DIR);
}
