// Redactor: secrets out of upstream text, plain or JSON.
#include "sluice/core/redact.hpp"

#include <string.h>  // memmem

#include <algorithm>

#include "sluice/core/json_text.hpp"

namespace sluice {

namespace {

constexpr std::size_t kNone = std::string_view::npos;

// `needle` in `hay` from `from` on. glibc's memmem runs in time linear in
// both, whatever the bytes (std::string_view::find may not).
std::size_t find_bytes(std::string_view hay, std::string_view needle, std::size_t from) {
  if (from > hay.size()) return kNone;
  const void* at = ::memmem(hay.data() + from, hay.size() - from, needle.data(), needle.size());
  return at ? static_cast<std::size_t>(static_cast<const char*>(at) - hay.data()) : kNone;
}

// Replaces the occurrences of `pattern` in `text` that `accept(at)` takes
// with the replacement, left to right, never overlapping one replaced. The
// text is rebuilt only when one is taken.
template <class Accept>
void replace(std::string& text, std::string_view pattern, Accept accept) {
  std::string out;
  std::size_t copied = 0;
  bool replaced = false;
  for (std::size_t at = find_bytes(text, pattern, 0); at != kNone;) {
    if (!accept(at)) {
      at = find_bytes(text, pattern, at + 1);
      continue;
    }
    if (!replaced) out.reserve(text.size());
    replaced = true;
    out.append(text, copied, at - copied);
    out += Redactor::kReplacement;
    copied = at + pattern.size();
    at = find_bytes(text, pattern, copied);
  }
  if (!replaced) return;
  out.append(text, copied);
  text = std::move(out);
}

// Walks JSON text forward, once, to say where a byte stands. A raw line
// break ends any string (a string cannot hold one), so lines of JSON (SSE,
// NDJSON) and a broken document do not carry a wrong state further.
class JsonWalk {
 public:
  enum class Place { in_string, outside, in_escape };

  explicit JsonWalk(std::string_view text) : text_(text) {}

  // Positions must not decrease from one call to the next.
  Place at(std::size_t position) {
    while (pos_ < position) step();
    if (pos_ > position) return Place::in_escape;
    return in_string_ ? Place::in_string : Place::outside;
  }

 private:
  void step() {
    const char c = text_[pos_];
    if (in_string_ && c == '\\') {
      pos_ += (pos_ + 1 < text_.size() && text_[pos_ + 1] == 'u') ? 6 : 2;
      return;
    }
    if (c == '"') in_string_ = !in_string_;
    else if (c == '\n' || c == '\r') in_string_ = false;
    ++pos_;
  }

  std::string_view text_;
  std::size_t pos_ = 0;
  bool in_string_ = false;
};

bool number_like(std::string_view s) {
  return s.find_first_not_of("0123456789+-.eE") == kNone;
}

}  // namespace

Redactor::Redactor(std::vector<std::string> secrets) {
  std::sort(secrets.begin(), secrets.end(),
            [](const std::string& a, const std::string& b) { return a.size() != b.size() ? a.size() > b.size() : a < b; });
  secrets.erase(std::unique(secrets.begin(), secrets.end()), secrets.end());
  for (std::string& raw : secrets) {
    if (raw.size() < kMinSecretBytes) continue;
    Secret s;
    std::string escaped = json_string(raw);
    escaped = escaped.substr(1, escaped.size() - 2);  // without the quotes
    s.in_json.push_back(escaped);
    if (escaped.find('/') != kNone) {  // some encoders write '/' as "\/"
      std::string slashed;
      for (const char c : escaped) slashed += c == '/' ? std::string_view("\\/") : std::string_view(&c, 1);
      s.in_json.push_back(std::move(slashed));
    }
    s.number_like = number_like(raw);
    s.raw = std::move(raw);
    secrets_.push_back(std::move(s));
  }
}

void Redactor::redact_text(std::string& text) const {
  for (const Secret& s : secrets_) replace(text, s.raw, [](std::size_t) { return true; });
}

void Redactor::redact_json(std::string& text) const {
  for (const Secret& s : secrets_) {
    for (const std::string& pattern : s.in_json) {
      JsonWalk walk(text);  // walks only as far as an occurrence, if there is one
      replace(text, pattern, [&](std::size_t at) {
        switch (walk.at(at)) {
          case JsonWalk::Place::in_string: return true;
          case JsonWalk::Place::outside: return !s.number_like;
          case JsonWalk::Place::in_escape: return false;
        }
        return false;
      });
    }
  }
}

void Redactor::redact(Error& error) const {
  if (secrets_.empty()) return;
  redact_text(error.message);
  redact_text(error.detail);
  redact_json(error.upstream_body);
}

}  // namespace sluice
