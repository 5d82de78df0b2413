// Standard base64 (RFC 4648, with padding), for embeddings: the OpenAI SDKs
// ask for `encoding_format: base64`, the little-endian float32 array encoded.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice {

std::string base64_encode(std::string_view bytes);
// nullopt on characters outside the alphabet or a bad length/padding.
std::optional<std::string> base64_decode(std::string_view text);

// float32 little-endian <-> base64, the embeddings wire form.
std::string floats_to_base64(const std::vector<float>& values);
std::optional<std::vector<float>> base64_to_floats(std::string_view text);

}  // namespace sluice
