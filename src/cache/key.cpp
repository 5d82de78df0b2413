// make_key: what a request is cached under. The body is parsed once (simdjson,
// nesting bounded) and walked once in canonical form (object keys sorted,
// numbers by value, strings by their decoded bytes with a length), feeding
// two xxh64 states at once: the exact hash sees everything, the partition
// hash sees the same with the last user turn's content replaced by a marker.
// Both start with the tenant, the endpoint and the model asked for.
//
// Left out of both hashes, because they never change what the model answers:
//   stream, stream_options        delivery only: a hit replays either way
//   user, safety_identifier,      who is asking, for the provider's abuse
//   metadata                      tracking and the client's own bookkeeping
//   store                         whether the provider keeps a copy
//   service_tier                  the provider's latency class, not the answer
//   prompt_cache_key,             hints for the provider's prompt cache
//   prompt_cache_retention
// Everything else counts, including parameters unknown today: an unknown key
// can only cause a miss, never a wrong hit.
#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

#define XXH_STATIC_LINKING_ONLY  // XXH64_state_t on the stack
#include <xxhash.h>

#include <simdjson.h>

#include "sluice/cache/cache.hpp"

namespace sluice::cache {

namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

constexpr std::size_t kMaxDepth = 64;  // deeper bodies are not cached

// model is hashed first, as asked for; n is 1 (any other n is never cached).
constexpr std::array<std::string_view, 11> kIgnored = {
    "stream", "stream_options", "user", "safety_identifier", "metadata", "store",
    "service_tier", "prompt_cache_key", "prompt_cache_retention", "model", "n"};

bool ignored(std::string_view key) {
  return std::find(kIgnored.begin(), kIgnored.end(), key) != kIgnored.end();
}

// Where the last user turn sits in the body: the value of top-level `key`,
// or (`in_last_item`) the `content` of the last item of that array.
struct TurnPath {
  std::string_view key;
  bool in_last_item = false;
};

class Canonical {
 public:
  Canonical() {
    XXH64_reset(&exact_, 0);
    XXH64_reset(&partition_, 0);
  }

  void text(std::string_view s, bool both = true) {
    const std::uint64_t n = s.size();
    put(&n, sizeof n, both);
    put(s.data(), s.size(), both);
  }
  void tag(char t, bool both = true) { put(&t, 1, both); }
  void number(std::uint64_t bits, char t, bool both) {
    tag(t, both);
    put(&bits, sizeof bits, both);
  }

  // A value in canonical form; `both` false feeds the exact hash only.
  void value(element e, bool both = true) {
    switch (e.type()) {
      case element_type::OBJECT: {
        std::vector<std::pair<std::string_view, element>> fields;
        const simdjson::dom::object object = e.get_object().value_unsafe();
        for (auto field : object) fields.emplace_back(field.key, field.value);
        std::stable_sort(fields.begin(), fields.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
        tag('{', both);
        for (const auto& [k, v] : fields) {
          text(k, both);
          value(v, both);
        }
        tag('}', both);
        break;
      }
      case element_type::ARRAY: {
        tag('[', both);
        const simdjson::dom::array items = e.get_array().value_unsafe();
        for (auto item : items) value(item, both);
        tag(']', both);
        break;
      }
      case element_type::STRING:
        tag('s', both);
        text(e.get_string().value_unsafe(), both);
        break;
      case element_type::INT64:
        number(static_cast<std::uint64_t>(e.get_int64().value_unsafe()), 'i', both);
        break;
      case element_type::UINT64: {
        const auto u = e.get_uint64().value_unsafe();
        number(u, u <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) ? 'i' : 'u', both);
        break;
      }
      case element_type::DOUBLE: {
        // 1 and 1.0 are one value; an integral double hashes as the integer.
        const double d = e.get_double().value_unsafe();
        if (std::trunc(d) == d && std::fabs(d) < 9.2e18) {
          number(static_cast<std::uint64_t>(static_cast<std::int64_t>(d)), 'i', both);
        } else {
          number(std::bit_cast<std::uint64_t>(d), 'd', both);
        }
        break;
      }
      case element_type::BOOL: tag(e.get_bool().value_unsafe() ? 't' : 'f', both); break;
      case element_type::NULL_VALUE: tag('n', both); break;
    }
  }

  // The top-level object, the turn at `turn` fed to the exact hash only.
  void body(simdjson::dom::object root, const std::optional<TurnPath>& turn) {
    std::vector<std::pair<std::string_view, element>> fields;
    for (auto field : root) {
      if (!ignored(field.key)) fields.emplace_back(field.key, field.value);
    }
    std::stable_sort(fields.begin(), fields.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    tag('{');
    for (const auto& [k, v] : fields) {
      text(k);
      if (!turn || k != turn->key) {
        value(v);
      } else if (!turn->in_last_item) {
        value(v, false);
        tag('P', true);
      } else {
        const simdjson::dom::array items = v.get_array().value_unsafe();
        last_item_turn(items);
      }
    }
    tag('}');
  }

  std::uint64_t exact() const { return XXH64_digest(&exact_); }
  std::uint64_t partition() const { return XXH64_digest(&partition_); }

 private:
  void last_item_turn(simdjson::dom::array items) {
    tag('[');
    const std::size_t last = items.size() - 1;
    std::size_t i = 0;
    for (auto item : items) {
      if (i++ != last) {
        value(item);
        continue;
      }
      std::vector<std::pair<std::string_view, element>> fields;
      const simdjson::dom::object object = item.get_object().value_unsafe();
      for (auto field : object) fields.emplace_back(field.key, field.value);
      std::stable_sort(fields.begin(), fields.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
      tag('{');
      for (const auto& [k, v] : fields) {
        text(k);
        if (k == "content") {
          value(v, false);
          tag('P', true);
        } else {
          value(v);
        }
      }
      tag('}');
    }
    tag(']');
  }

  void put(const void* data, std::size_t n, bool both) {
    XXH64_update(&exact_, data, n);
    if (both) XXH64_update(&partition_, data, n);
  }

  XXH64_state_t exact_, partition_;
};

std::optional<std::string_view> string_field(element object, std::string_view key) {
  std::string_view out;
  if (object[key].get(out) != simdjson::SUCCESS) return std::nullopt;
  return out;
}

// The text of a turn's content: a string, or an array of text parts (`part`
// names their type) joined by "\n". nullopt when any part is not text (an
// image, a tool result): such a turn is not compared by meaning.
std::optional<std::string> content_text(element content, std::string_view part) {
  std::string_view s;
  if (content.get(s) == simdjson::SUCCESS) return std::string(s);
  simdjson::dom::array parts;
  if (content.get(parts) != simdjson::SUCCESS) return std::nullopt;
  std::string out;
  bool first = true;
  for (auto p : parts) {
    const auto type = string_field(p, "type");
    const auto text = string_field(p, "text");
    if (!type || *type != part || !text) return std::nullopt;
    if (!first) out += '\n';
    out.append(*text);
    first = false;
  }
  if (first) return std::nullopt;
  return out;
}

struct Turn {
  TurnPath path;
  std::string text;
};

// The last user turn of `root` when it is text, per endpoint.
std::optional<Turn> last_user_turn(Endpoint endpoint, simdjson::dom::object root) {
  const auto from_messages = [&](std::string_view key, std::string_view part) -> std::optional<Turn> {
    simdjson::dom::array items;
    if (root[key].get(items) != simdjson::SUCCESS || items.size() == 0) return std::nullopt;
    element last;
    for (auto item : items) last = item;
    simdjson::dom::object message;
    if (last.get(message) != simdjson::SUCCESS) return std::nullopt;
    if (string_field(last, "role") != std::optional<std::string_view>("user")) return std::nullopt;
    if (const auto type = string_field(last, "type"); type && *type != "message") return std::nullopt;
    element content;
    if (message["content"].get(content) != simdjson::SUCCESS) return std::nullopt;
    auto text = content_text(content, part);
    if (!text) return std::nullopt;
    return Turn{{key, true}, std::move(*text)};
  };
  switch (endpoint) {
    case Endpoint::chat_completions: return from_messages("messages", "text");
    case Endpoint::messages: return from_messages("messages", "text");
    case Endpoint::responses: {
      std::string_view input;
      if (root["input"].get(input) == simdjson::SUCCESS) return Turn{{"input", false}, std::string(input)};
      return from_messages("input", "input_text");
    }
    case Endpoint::completions: {
      std::string_view prompt;
      if (root["prompt"].get(prompt) == simdjson::SUCCESS) return Turn{{"prompt", false}, std::string(prompt)};
      return std::nullopt;
    }
    case Endpoint::embeddings:
    case Endpoint::count_tokens: return std::nullopt;
  }
  return std::nullopt;
}

// Code points of UTF-8 text (continuation bytes not counted).
std::size_t code_points(std::string_view s) {
  std::size_t n = 0;
  for (const unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

}  // namespace

std::string_view to_string(Outcome outcome) noexcept {
  switch (outcome) {
    case Outcome::hit_exact: return "hit-exact";
    case Outcome::hit_semantic: return "hit-semantic";
    case Outcome::miss: return "miss";
    case Outcome::bypass: return "bypass";
  }
  return "miss";
}

std::optional<Key> make_key(const LlmRequest& req, std::string_view tenant, const CacheConfig& config) {
  if (req.endpoint == Endpoint::count_tokens) return std::nullopt;
  thread_local simdjson::dom::parser parser;
  if (parser.max_depth() != kMaxDepth && parser.allocate(std::max<std::size_t>(req.body.size(), 4096), kMaxDepth))
    return std::nullopt;
  simdjson::dom::object root;
  if (parser.parse(req.body).get(root) != simdjson::SUCCESS) return std::nullopt;

  // n > 1 asks for several answers: one stored answer cannot stand for them.
  if (auto v = root["n"]; v.error() == simdjson::SUCCESS) {
    double n = 1;
    if (v.get(n) != simdjson::SUCCESS || n != 1) return std::nullopt;
  }

  std::optional<Turn> turn = last_user_turn(req.endpoint, root);
  Key key;
  key.tenant = std::string(tenant);
  key.endpoint = req.endpoint;

  Canonical canon;
  canon.text(tenant);
  canon.text(to_string(req.endpoint));
  canon.text(req.model);
  canon.body(root, turn ? std::optional<TurnPath>(turn->path) : std::nullopt);
  key.exact = canon.exact();
  key.partition = canon.partition();

  // A request that does not set temperature is sampled at the provider's
  // default, 1 for OpenAI and Anthropic: it counts as 1.
  double temperature = 1.0;
  if (auto v = root["temperature"]; v.error() == simdjson::SUCCESS && v.get(temperature) != simdjson::SUCCESS)
    temperature = std::numeric_limits<double>::infinity();
  const auto& semantic = config.semantic;
  // A turn longer than max_prompt_chars is not compared by meaning at all:
  // a truncated prompt would let two questions that differ after the cut
  // verify as the same.
  if (config.enabled && semantic.enabled && turn && !turn->text.empty() &&
      temperature <= semantic.max_temperature && code_points(turn->text) <= semantic.max_prompt_chars) {
    key.semantic = true;
    key.prompt = std::move(turn->text);
  }
  return key;
}

}  // namespace sluice::cache
