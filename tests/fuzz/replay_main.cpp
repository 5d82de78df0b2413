// Runs a fuzz target's LLVMFuzzerTestOneInput on every file of the
// directories (or files) given: the seed corpus as a regression test in the
// normal build (ctest fuzz_corpus_<target>), without libFuzzer. A broken
// invariant aborts, naming the file being run.
//
// A file whose name ends in ".grow" is also a linear-time check: it holds
// PREFIX@@GROW@@UNIT@@GROW@@SUFFIX, the worst shape of input known for the
// target, and is run grown to about 16 KiB and to about 1 MiB (the unit
// repeated). Linear work takes about 64 times as long for the larger (a few
// times more as the data leaves the caches); the check fails above 512
// times, where a quadratic cost takes about 4096 times. Each is the best of
// three runs, so that a loaded machine does not fail it.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

constexpr std::string_view kGrow = "@@GROW@@";

// PREFIX + UNIT * n + SUFFIX, about `bytes` long.
std::string grown(const std::string& pattern, std::size_t bytes) {
  const std::size_t a = pattern.find(kGrow);
  const std::size_t b = pattern.find(kGrow, a + kGrow.size());
  const std::string prefix = pattern.substr(0, a);
  const std::string unit = pattern.substr(a + kGrow.size(), b - a - kGrow.size());
  const std::string suffix = pattern.substr(b + kGrow.size());
  std::string out = prefix;
  while (out.size() + suffix.size() < bytes) out += unit;
  return out + suffix;
}

double best_of_three_ms(const std::string& input) {
  double best = 1e300;
  for (int i = 0; i < 3; ++i) {
    const auto start = std::chrono::steady_clock::now();
    LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(input.data()), input.size());
    best = std::min(best, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  return best;
}

// False when the grown input costs more than linearly.
bool check_linear(const std::filesystem::path& file, const std::string& pattern) {
  const std::size_t a = pattern.find(kGrow);
  if (a == std::string::npos || pattern.find(kGrow, a + kGrow.size()) == std::string::npos) {
    std::fprintf(stderr, "%s: a .grow file needs PREFIX%sUNIT%sSUFFIX\n", file.c_str(), kGrow.data(), kGrow.data());
    return false;
  }
  const std::string small = grown(pattern, 16u << 10), large = grown(pattern, 1u << 20);
  const double small_ms = best_of_three_ms(small), large_ms = best_of_three_ms(large);
  // Below a millisecond the clock says little: give the small run that much.
  const double ratio = large_ms / std::max(small_ms, 1.0);
  std::printf("%s: %zu bytes in %.2f ms, %zu bytes in %.2f ms (x%.1f)\n", file.filename().c_str(), small.size(),
              small_ms, large.size(), large_ms, ratio);
  if (ratio <= 512) return true;
  std::fprintf(stderr, "%s: 64 times the input took %.0f times as long: not linear\n", file.c_str(), ratio);
  return false;
}

std::vector<std::filesystem::path> inputs_of(const std::filesystem::path& arg) {
  std::vector<std::filesystem::path> files;
  if (std::filesystem::is_directory(arg)) {
    for (const auto& entry : std::filesystem::recursive_directory_iterator(arg))
      if (entry.is_regular_file()) files.push_back(entry.path());
  } else {
    files.push_back(arg);
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR_OR_FILE...\n", argv[0]);
    return 2;
  }
  std::size_t count = 0;
  bool linear = true;
  const auto started = std::chrono::steady_clock::now();
  for (int i = 1; i < argc; ++i) {
    for (const auto& file : inputs_of(argv[i])) {
      std::ifstream in(file, std::ios::binary);
      const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      std::fprintf(stderr, "running %s (%zu bytes)\n", file.c_str(), bytes.size());
      LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
      if (file.extension() == ".grow") linear = check_linear(file, bytes) && linear;
      ++count;
    }
  }
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  std::printf("%zu inputs ran in %lld ms\n", count, static_cast<long long>(ms.count()));
  if (count == 0) return 1;  // an empty corpus is a mistake, not a pass
  return linear ? 0 : 1;
}
