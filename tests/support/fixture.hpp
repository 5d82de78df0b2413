// Reading recorded wire samples from tests/fixtures/. The directory comes from
// SLUICE_SOURCE_DIR when the build defines it, else from this file's own path,
// else by walking up from the working directory.
#pragma once

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

namespace sluice::test {

inline std::filesystem::path fixtures_dir() {
  namespace fs = std::filesystem;
  auto usable = [](const fs::path& root) { return fs::is_directory(root / "tests" / "fixtures"); };
#ifdef SLUICE_SOURCE_DIR
  if (usable(SLUICE_SOURCE_DIR)) return fs::path(SLUICE_SOURCE_DIR) / "tests" / "fixtures";
#endif
  // <root>/tests/support/fixture.hpp
  const fs::path here = fs::path(__FILE__).parent_path();
  if (here.is_absolute() && usable(here / ".." / ".."))
    return fs::weakly_canonical(here / ".." / "..") / "tests" / "fixtures";
  for (fs::path dir = fs::current_path(); !dir.empty(); dir = dir.parent_path()) {
    if (usable(dir)) return dir / "tests" / "fixtures";
    if (dir == dir.parent_path()) break;
  }
  throw std::runtime_error("cannot find tests/fixtures (define SLUICE_SOURCE_DIR)");
}

// The file's bytes, exactly; throws when it cannot be read.
inline std::string read_fixture(const std::string& relative) {
  const auto path = fixtures_dir() / relative;
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read fixture " + path.string());
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace sluice::test
