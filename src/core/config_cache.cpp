// The `cache` config section: the answer cache's budgets and what it keeps
// (CacheConfig), and its semantic tier, off unless chosen (SemanticCacheConfig).
#include "config_sections.hpp"

namespace sluice::config_reader {

namespace {

void read_embedder(Reader& r, const Slot& at, SemanticCacheConfig& c) {
  if (at.node.IsMap()) {  // { provider: NAME, model: MODEL }: checked against providers with the whole file
    Name provider;
    r.mapping(at, {
        {"provider", [&](const Slot& s) { r.name(s, provider); }, true},
        {"model", [&](const Slot& s) { r.non_empty_string(s, c.embedder_model); }, true},
    });
    c.embedder_provider = provider.value;
    return;
  }
  const Choices<std::string_view> kEmbedders{
      {"builtin", "builtin"}, {"use-lite", "use-lite"}, {"hashed-ngram", "hashed-ngram"}};
  std::string_view embedder;
  if (r.choice(at, kEmbedders, embedder)) c.embedder = embedder;
}

void read_semantic(Reader& r, const Slot& at, SemanticCacheConfig& c) {
  r.mapping(at, {
      {"enabled", [&](const Slot& s) { r.boolean(s, c.enabled); }},
      {"threshold", [&](const Slot& s) { r.number(s, 0, 1, c.threshold); }},
      {"max_temperature", [&](const Slot& s) { r.number(s, 0, 2, c.max_temperature); }},
      {"candidates", [&](const Slot& s) { r.integer(s, 1, 64, c.candidates); }},
      {"max_prompt_chars", [&](const Slot& s) { r.integer(s, 16, 1'000'000, c.max_prompt_chars); }},
      {"embedder", [&](const Slot& s) { read_embedder(r, s, c); }},
      {"embed_timeout", [&](const Slot& s) { r.duration(s, Millis{1}, kMinute, c.embed_timeout); }},
      {"weights_dir", [&](const Slot& s) { r.non_empty_string(s, c.weights_dir); }},
      {"embed_threads", [&](const Slot& s) { r.integer(s, 1, 64, c.embed_threads); }},
  });
}

}  // namespace

void read_cache(Reader& r, const Slot& at, CacheConfig& c) {
  r.mapping(at, {
      {"enabled", [&](const Slot& s) { r.boolean(s, c.enabled); }},
      {"ttl", [&](const Slot& s) { r.duration(s, Millis{1'000}, 365 * 24 * kHour, c.ttl); }},
      {"max_entries", [&](const Slot& s) { r.integer(s, 1, 100'000'000, c.max_entries); }},
      {"max_bytes", [&](const Slot& s) { r.integer(s, 1LL << 20, 1LL << 40, c.max_bytes); }},
      {"max_entry_bytes", [&](const Slot& s) { r.integer(s, 1024, 1LL << 30, c.max_entry_bytes); }},
      {"tool_calls", [&](const Slot& s) { r.boolean(s, c.tool_calls); }},
      {"semantic", [&](const Slot& s) { read_semantic(r, s, c.semantic); }},
  });
  if (c.max_entry_bytes > c.max_bytes)
    r.problem(at, "max_entry_bytes (" + std::to_string(c.max_entry_bytes) + ") is larger than max_bytes (" +
                      std::to_string(c.max_bytes) + ")");
}

}  // namespace sluice::config_reader
