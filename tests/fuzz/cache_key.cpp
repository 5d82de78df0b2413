// Fuzz target: the cache's canonicalisation (cache::make_key) on bodies the
// front door accepted (the first byte picks the endpoint; the semantic tier
// is on). Invariants: the key is deterministic; a body written differently
// (keys reordered, whitespace and escapes changed: nlohmann's dump) has the
// same exact and partition hashes; what never changes an answer (stream,
// user, metadata) changes neither; another tenant or another temperature
// changes the exact hash; the semantic prompt is within max_prompt_chars.
// Bodies with a key twice in one object are left out of the rewriting
// checks: a JSON parser keeps one of them, the canonical walk both.
#include <set>
#include <vector>

#include "request_checks.hpp"
#include "sluice/cache/cache.hpp"
#include "sluice/core/config.hpp"

namespace {

using namespace sluice;
using nlohmann::json;

// `body` as JSON when no object in it has a key twice.
std::optional<json> without_duplicates(std::string_view body) {
  std::vector<std::set<std::string>> open;
  bool duplicate = false;
  json::parser_callback_t note = [&](int, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::object_start) open.emplace_back();
    else if (event == json::parse_event_t::object_end && !open.empty()) open.pop_back();
    else if (event == json::parse_event_t::key && !open.empty() && !open.back().insert(parsed.get<std::string>()).second)
      duplicate = true;
    return true;
  };
  json doc = json::parse(body, note, false);
  if (duplicate || doc.is_discarded() || !doc.is_object()) return std::nullopt;
  return doc;
}

std::optional<cache::Key> key_of(Endpoint endpoint, const std::string& body, std::string_view tenant,
                                 const CacheConfig& config) {
  auto req = server::parse_request(endpoint, fuzz::padded(body));
  if (!req) return std::nullopt;
  return cache::make_key(*req, tenant, config);
}

bool same_hashes(const std::optional<cache::Key>& a, const std::optional<cache::Key>& b) {
  if (a.has_value() != b.has_value()) return false;
  return !a || (a->exact == b->exact && a->partition == b->partition && a->prompt == b->prompt &&
                a->semantic == b->semantic);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input = fuzz::text_of(data, size);
  if (input.empty()) return 0;
  static constexpr Endpoint kEndpoints[] = {Endpoint::chat_completions, Endpoint::completions, Endpoint::embeddings};
  const Endpoint endpoint = kEndpoints[static_cast<unsigned char>(input[0]) % 3];
  const std::string body(input.substr(1));
  CacheConfig config;
  config.enabled = true;
  config.semantic.enabled = true;

  auto req = server::parse_request(endpoint, fuzz::padded(body));
  if (!req) return 0;  // refused at the front door: never reaches the cache
  const auto key = cache::make_key(*req, "tenant-a", config);
  FUZZ_CHECK(same_hashes(key, cache::make_key(*req, "tenant-a", config)), "make_key is not deterministic");
  if (!key) return 0;
  FUZZ_CHECK(key->prompt.size() <= config.semantic.max_prompt_chars * 4, "the semantic prompt is over its bound");
  const auto other_tenant = cache::make_key(*req, "tenant-b", config);
  FUZZ_CHECK(other_tenant && other_tenant->exact != key->exact, "two tenants share a cache key");

  const auto doc = without_duplicates(body);
  if (!doc) return 0;
  FUZZ_CHECK(same_hashes(key, key_of(endpoint, doc->dump(), "tenant-a", config)),
             "the same request written differently has another key: " + doc->dump());
  json delivery = *doc;
  delivery["stream"] = !delivery.value("stream", false);
  delivery["user"] = "someone-else";
  delivery["metadata"] = {{"trace", "x"}};
  const auto same = key_of(endpoint, delivery.dump(), "tenant-a", config);
  FUZZ_CHECK(!same || same->exact == key->exact, "stream, user or metadata changed the exact hash");
  json hotter = *doc;
  hotter["temperature"] = hotter.contains("temperature") && hotter["temperature"] == 1.25 ? 1.5 : 1.25;
  const auto changed = key_of(endpoint, hotter.dump(), "tenant-a", config);
  FUZZ_CHECK(!changed || changed->exact != key->exact, "another temperature kept the exact hash");
  return 0;
}
