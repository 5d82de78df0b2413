// The `cache` config section (CacheConfig): the answer cache's budgets and
// its semantic tier. The embedder is a built-in name or a {provider, model}
// mapping naming an OpenAI-compatible /v1/embeddings deployment; that
// provider is checked against providers[] once the whole file is read
// (check_cache_refs).
#include "config_sections.hpp"

namespace sluice::config_reader {

namespace {

void read_embedder(Reader& r, const Slot& at, SemanticCacheConfig& c, CacheRefs& refs) {
  if (at.node.IsMap()) {
    Name provider;
    r.mapping(at, {
        {"provider",
         [&](const Slot& s) {
           if (r.name(s, provider)) refs.embedder_provider = ProviderRef{provider, s};
         },
         true},
        {"model", [&](const Slot& s) { r.non_empty_string(s, c.embedder_model); }, true},
    });
    c.embedder = "provider";
    c.embedder_provider = provider.value;
    return;
  }
  std::string name;
  r.choice(at, Choices<std::string>{{"builtin", "builtin"}, {"use-lite", "use-lite"}, {"hashed-ngram", "hashed-ngram"}},
           name);
  if (!name.empty()) c.embedder = name;
}

void read_semantic(Reader& r, const Slot& at, SemanticCacheConfig& c, CacheRefs& refs) {
  r.mapping(at, {
      {"enabled",
       [&](const Slot& s) {
         r.boolean(s, c.enabled);
         refs.semantic_enabled = s;
       }},
      {"threshold", [&](const Slot& s) { r.number(s, 0, 1, c.threshold); }},
      {"max_temperature", [&](const Slot& s) { r.number(s, 0, 2, c.max_temperature); }},
      {"candidates", [&](const Slot& s) { r.integer(s, 1, 64, c.candidates); }},
      {"max_prompt_chars", [&](const Slot& s) { r.integer(s, 16, 100'000, c.max_prompt_chars); }},
      {"embedder", [&](const Slot& s) { read_embedder(r, s, c, refs); }},
      {"embed_timeout", [&](const Slot& s) { r.duration(s, Millis{1}, kMinute, c.embed_timeout); }},
      {"weights_dir", [&](const Slot& s) { r.non_empty_string(s, c.weights_dir); }},
      {"embed_threads", [&](const Slot& s) { r.integer(s, 1, 64, c.embed_threads); }},
  });
}

}  // namespace

void read_cache(Reader& r, const Slot& at, CacheConfig& c, CacheRefs& refs) {
  Slot entry_bytes_slot;
  bool entry_bytes_set = false;
  r.mapping(at, {
      {"enabled", [&](const Slot& s) { r.boolean(s, c.enabled); }},
      {"ttl", [&](const Slot& s) { r.duration(s, Millis{1'000}, 30 * 24 * kHour, c.ttl); }},
      {"max_entries", [&](const Slot& s) { r.integer(s, 1, 100'000'000, c.max_entries); }},
      {"max_bytes", [&](const Slot& s) { r.integer(s, 1ll << 20, 1ll << 40, c.max_bytes); }},
      {"max_entry_bytes",
       [&](const Slot& s) {
         r.integer(s, 1ll << 10, 1ll << 30, c.max_entry_bytes);
         entry_bytes_slot = s;
         entry_bytes_set = true;
       }},
      {"tool_calls", [&](const Slot& s) { r.boolean(s, c.tool_calls); }},
      {"semantic", [&](const Slot& s) { read_semantic(r, s, c.semantic, refs); }},
  });
  if (c.semantic.enabled && !c.enabled && refs.semantic_enabled)
    r.problem(*refs.semantic_enabled, "the semantic tier needs the cache: set cache.enabled: true");
  if (entry_bytes_set && c.max_entry_bytes > c.max_bytes)
    r.problem(entry_bytes_slot, "must be at most cache.max_bytes (" + std::to_string(c.max_bytes) + ")");
}

}  // namespace sluice::config_reader
