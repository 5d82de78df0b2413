// Reads a TensorFlow.js graph model's weights: model.json's weightsManifest
// names each tensor with its shape and dtype, in the order its bytes follow
// one another in the group's shard files (concatenated in manifest order,
// little-endian float32 / int32). Only what USE-lite needs: no quantised
// weights, no string tensors.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "sluice/core/error.hpp"

namespace sluice::embed {

struct TfjsTensor {
  std::vector<std::int64_t> shape;
  std::vector<float> floats;        // dtype float32
  std::vector<std::int32_t> ints;   // dtype int32
};

class TfjsWeights {
 public:
  // Loads model.json and its shards from `dir`. Errors name the file and
  // what is wrong: missing, unreadable, shorter or longer than the manifest
  // says, a dtype other than float32/int32.
  static Result<TfjsWeights> load(const std::filesystem::path& dir);

  // The float32 tensor `name` if its shape is `shape`, else an error naming
  // both shapes.
  Result<const float*> floats(const std::string& name, const std::vector<std::int64_t>& shape) const;
  Result<float> scalar(const std::string& name) const;
  // Frees a tensor whose values were copied elsewhere; its pointers die.
  void release(const std::string& name) { tensors_.erase(name); }
  Result<std::int32_t> int_scalar(const std::string& name) const;

  // FNV-1a of "name op\n" over the graph's non-constant nodes, in file
  // order: which graph model.json holds.
  std::uint64_t graph_fingerprint() const { return graph_fingerprint_; }

 private:
  const TfjsTensor* find(const std::string& name) const;

  std::map<std::string, TfjsTensor> tensors_;
  std::uint64_t graph_fingerprint_ = 0;
};

}  // namespace sluice::embed
