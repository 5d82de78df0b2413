// TensorFlow.js weights (tfjs_weights.hpp).
#include "tfjs_weights.hpp"

#include <bit>
#include <cstring>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

namespace sluice::embed {

namespace {

static_assert(std::endian::native == std::endian::little, "the weight shards are little-endian");

std::string shape_text(const std::vector<std::int64_t>& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ',';
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

Result<std::string> read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::error_code ec;
    const bool exists = std::filesystem::exists(path, ec);
    return make_error(errc::internal, path.string() + (exists ? ": cannot be read" : ": no such file"));
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::uint64_t fingerprint(const nlohmann::json& nodes) {
  std::uint64_t h = 1469598103934665603ull;
  auto add = [&h](const std::string& s) {
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  };
  for (const auto& node : nodes) {
    const auto op = node.value("op", std::string{});
    if (op == "Const") continue;
    add(node.value("name", std::string{}));
    add(" ");
    add(op);
    add("\n");
  }
  return h;
}

}  // namespace

Result<TfjsWeights> TfjsWeights::load(const std::filesystem::path& dir) {
  const auto model_path = dir / "model.json";
  auto text = read_file(model_path);
  if (!text) return std::move(text).error();
  const auto json = nlohmann::json::parse(text.value(), nullptr, false);
  auto bad = [&](const std::string& what) { return make_error(errc::internal, model_path.string() + ": " + what); };
  if (json.is_discarded() || !json.is_object()) return bad("not JSON");
  if (!json.contains("weightsManifest") || !json["weightsManifest"].is_array()) return bad("no weightsManifest");

  TfjsWeights w;
  if (json.contains("modelTopology") && json["modelTopology"].contains("node") &&
      json["modelTopology"]["node"].is_array())
    w.graph_fingerprint_ = fingerprint(json["modelTopology"]["node"]);

  try {
    for (const auto& group : json["weightsManifest"]) {
      std::string bytes;
      for (const auto& path : group.at("paths")) {
        const auto name = path.get<std::string>();
        if (name.find('/') != std::string::npos || name.find("..") != std::string::npos)
          return bad("shard path " + name + " leaves the directory");
        auto shard = read_file(dir / name);
        if (!shard) return std::move(shard).error();
        bytes += shard.value();
      }
      std::size_t offset = 0;
      for (const auto& spec : group.at("weights")) {
        TfjsTensor t;
        const auto name = spec.at("name").get<std::string>();
        const auto dtype = spec.at("dtype").get<std::string>();
        if (spec.contains("quantization")) return bad(name + " is quantised, which this reader does not support");
        std::size_t count = 1;
        for (const auto& d : spec.at("shape")) {
          const auto v = d.get<std::int64_t>();
          if (v < 0 || v > (1 << 28)) return bad(name + " has a dimension of " + std::to_string(v));
          t.shape.push_back(v);
          count *= static_cast<std::size_t>(v);
        }
        if (count > (1u << 28)) return bad(name + " is too large");
        const std::size_t size = count * 4;
        if (offset + size > bytes.size())
          return bad("the shards hold " + std::to_string(bytes.size()) + " bytes, fewer than the manifest needs (at " + name + ")");
        if (dtype == "float32") {
          t.floats.resize(count);
          std::memcpy(t.floats.data(), bytes.data() + offset, size);
        } else if (dtype == "int32") {
          t.ints.resize(count);
          std::memcpy(t.ints.data(), bytes.data() + offset, size);
        } else {
          return bad(name + " has dtype " + dtype + ", not float32 or int32");
        }
        offset += size;
        w.tensors_[name] = std::move(t);
      }
      if (offset != bytes.size())
        return bad("the shards hold " + std::to_string(bytes.size()) + " bytes, the manifest describes " + std::to_string(offset));
    }
  } catch (const nlohmann::json::exception& e) {
    return bad(std::string("malformed weightsManifest: ") + e.what());
  }
  return w;
}

const TfjsTensor* TfjsWeights::find(const std::string& name) const {
  const auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

Result<const float*> TfjsWeights::floats(const std::string& name, const std::vector<std::int64_t>& shape) const {
  const auto* t = find(name);
  if (!t || (t->floats.empty() && !t->ints.empty())) return make_error(errc::internal, "model.json has no float32 tensor " + name);
  if (t->shape != shape)
    return make_error(errc::internal, "model.json: " + name + " has shape " + shape_text(t->shape) + ", expected " + shape_text(shape));
  return t->floats.data();
}

Result<float> TfjsWeights::scalar(const std::string& name) const {
  auto p = floats(name, {});
  if (!p) return std::move(p).error();
  return *p.value();
}

Result<std::int32_t> TfjsWeights::int_scalar(const std::string& name) const {
  const auto* t = find(name);
  if (!t || t->ints.size() != 1) return make_error(errc::internal, "model.json has no int32 scalar " + name);
  return t->ints[0];
}

}  // namespace sluice::embed
