// The `providers` config section: one upstream account per item, with its
// type, URL, credentials, extra headers, CA file, limits, timeouts and the
// mock provider's knobs (ProviderConfig).
//
// api_key and header values are never echoed in a message: they carry
// credentials, so both are read with Reader::string, which prints no value.
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "config_sections.hpp"
#include "config_syntax.hpp"

namespace sluice::config_reader {

namespace {

using config_syntax::lowercase;

void read_mock(Reader& r, const Slot& at, MockConfig& c) {
  r.mapping(at, {
      {"latency", [&](const Slot& s) { r.duration(s, Millis{0}, 10 * kMinute, c.latency); }},
      {"stream_chunks", [&](const Slot& s) { r.integer(s, 1, 10'000, c.stream_chunks); }},
      {"chunk_interval", [&](const Slot& s) { r.duration(s, Millis{0}, kMinute, c.chunk_interval); }},
      {"completion_tokens", [&](const Slot& s) { r.integer(s, 1, 100'000, c.completion_tokens); }},
      {"embedding_dims", [&](const Slot& s) { r.integer(s, 1, 65'536, c.embedding_dims); }},
  });
}

// Header values are never echoed: they often carry credentials.
void read_headers(Reader& r, const Slot& at, std::map<std::string, std::string>& headers) {
  if (at.node.IsNull()) return;
  if (!at.node.IsMap()) return r.problem(at, "expected a mapping");
  static const std::set<std::string> kReserved = {"host", "content-length", "transfer-encoding",
                                                  "connection"};
  std::set<std::string> seen;  // lowercased: header names are case-insensitive
  for (auto it = at.node.begin(); it != at.node.end(); ++it) {
    if (!it->first.IsScalar()) {
      r.problem(at.path, it->first.Mark(), "keys must be plain strings");
      continue;
    }
    const std::string& name = it->first.Scalar();
    const Slot value{it->second, join_key(at.path, name),
                     it->second.IsNull() ? it->first.Mark() : it->second.Mark()};
    if (!config_syntax::is_http_token(name)) {
      r.problem(value.path, it->first.Mark(), "invalid header name " + quote(name));
    } else if (kReserved.contains(lowercase(name))) {
      r.problem(value.path, it->first.Mark(), "header " + quote(name) + " is set by sluice");
    } else if (!seen.insert(lowercase(name)).second) {
      r.problem(value.path, it->first.Mark(), "duplicate header " + quote(name));
    }
    std::string text;
    if (!r.string(value, text)) continue;
    if (text.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
      r.problem(value, "header value must not contain CR, LF or NUL");
      continue;
    }
    headers[name] = std::move(text);
  }
}

}  // namespace

void read_ca_file(Reader& r, const Slot& at, std::string& out) {
  if (at.node.IsNull()) return;  // `ca_file:` with no value: the system store only
  const auto value = r.scalar(at, "a string");
  if (!value) return;
  if (auto bad = config_syntax::check_readable_file(value->text)) {
    return r.problem(at, "cannot read CA file " + value->shown() + ": " + *bad);
  }
  out = value->text;
}

void read_provider(Reader& r, const Slot& at, ProviderConfig& c, KeyLines& names,
                   std::vector<std::string>& written_names) {
  static const Choices<ProviderType> kTypes = {{"openai", ProviderType::openai},
                                               {"azure", ProviderType::azure},
                                               {"anthropic", ProviderType::anthropic},
                                               {"ollama", ProviderType::ollama},
                                               {"mock", ProviderType::mock}};
  static const Choices<ResponsesApi> kResponsesApis = {{"native", ResponsesApi::native},
                                                       {"translated", ResponsesApi::translated}};
  bool type_read = false;
  bool has_base_url = false;
  std::optional<Slot> responses_api;
  r.mapping(at, {
      {"name",
       [&](const Slot& s) {
         Name name;
         if (!r.name(s, name)) return;
         c.name = name.value;
         written_names.push_back(name.written);
         if (!config_syntax::is_name(c.name)) {
           r.problem(s, "invalid name " + name.shown + "; use letters, digits, '.', '_' and '-'");
         }
         check_unique(r, s, name, "provider", names);
       },
       true},
      {"type", [&](const Slot& s) { type_read = r.choice(s, kTypes, c.type); }, true},
      {"base_url",
       [&](const Slot& s) {
         has_base_url = true;
         if (!r.string(s, c.base_url)) return;
         if (auto bad = config_syntax::check_base_url(c.base_url)) r.problem(s, *bad);
       }},
      {"api_key", [&](const Slot& s) { r.string(s, c.api_key); }},
      {"api_version", [&](const Slot& s) { r.non_empty_string(s, c.api_version); }},
      {"anthropic_version", [&](const Slot& s) { r.non_empty_string(s, c.anthropic_version); }},
      {"responses_api",
       [&](const Slot& s) {
         if (r.choice(s, kResponsesApis, c.responses_api)) responses_api = s;
       }},
      {"ca_file", [&](const Slot& s) { read_ca_file(r, s, c.ca_file); }},
      {"headers", [&](const Slot& s) { read_headers(r, s, c.headers); }},
      {"rpm", [&](const Slot& s) { r.integer(s, 0, INT_MAX, c.rpm); }},
      {"tpm", [&](const Slot& s) { r.integer(s, 0, INT_MAX, c.tpm); }},
      {"weight", [&](const Slot& s) { r.integer(s, 1, 1000, c.weight); }},
      {"default_max_tokens", [&](const Slot& s) { r.integer(s, 1, 1'000'000, c.default_max_tokens); }},
      {"max_retries", [&](const Slot& s) { r.integer(s, 0, 10, c.max_retries); }},
      {"cooldown", [&](const Slot& s) { r.duration(s, Millis{100}, kHour, c.cooldown); }},
      {"timeout", [&](const Slot& s) { r.duration(s, Millis{10}, kHour, c.timeout); }},
      {"connect_timeout",
       [&](const Slot& s) { r.duration(s, Millis{10}, 10 * kMinute, c.connect_timeout); }},
      {"first_byte_timeout",
       [&](const Slot& s) { r.duration(s, Millis{10}, kHour, c.first_byte_timeout); }},
      {"idle_timeout", [&](const Slot& s) { r.duration(s, Millis{10}, kHour, c.idle_timeout); }},
      {"max_idle_connections",
       [&](const Slot& s) { r.integer(s, 0, 10'000, c.max_idle_connections); }},
      {"mock", [&](const Slot& s) { read_mock(r, s, c.mock); }},
  });
  if (type_read && (c.type == ProviderType::openai || c.type == ProviderType::azure) && !has_base_url) {
    r.problem(at, std::string("missing required key 'base_url' (required for type ") +
                      (c.type == ProviderType::azure ? "azure)" : "openai)"));
  }
  if (type_read && responses_api && c.type != ProviderType::openai && c.type != ProviderType::azure)
    r.problem(*responses_api, "applies to types openai and azure only (the other types always translate)");
  if (!has_base_url && c.type == ProviderType::anthropic) c.base_url = "https://api.anthropic.com";
  if (!has_base_url && c.type == ProviderType::ollama) c.base_url = "http://127.0.0.1:11434";
}

}  // namespace sluice::config_reader
