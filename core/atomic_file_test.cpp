#include "core/atomic_file.hpp"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.hpp"

using namespace subq;
namespace fs = std::filesystem;

namespace {

std::string text_of(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The files in dir, by name.
std::vector<std::string> listing(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

TEST_CASE("atomic files: the file appears whole at commit, and not at all without it", "[core][atomic]") {
  const fs::path dir = fs::temp_directory_path() / "subq_test_atomic_file";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const fs::path path = dir / "out.json";
  write_file_atomically(path, "old\n");
  {
    AtomicFile file(path);
    file.stream() << "new, half written";
    CHECK(text_of(path) == "old\n");  // until commit, the old file stays as it was
  }  // destroyed uncommitted, as an error unwinding would: the temporary goes, the old file stays
  CHECK(text_of(path) == "old\n");
  CHECK(listing(dir) == std::vector<std::string>{"out.json"});
  {
    AtomicFile file(path);
    file.stream() << "new\n";
    file.commit();
  }
  CHECK(text_of(path) == "new\n");
  CHECK(listing(dir) == std::vector<std::string>{"out.json"});
  CHECK_THROWS_WITH(write_file_atomically(dir / "no/such/folder/x.csv", "x"),
                    Catch::Contains("no/such/folder/x.csv: cannot open for writing"));
}
