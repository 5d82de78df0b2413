// Redactor: takes the gateway's own secrets out of text an upstream sent,
// before that text reaches a client or a log. An upstream may quote the
// request it received (a 400 naming the header it disliked, a proxy's
// debugging answer), and that request carried the gateway's credentials.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/core/error.hpp"

namespace sluice {

class Redactor {
 public:
  static constexpr std::string_view kReplacement = "[redacted]";
  // Shorter values are not taken for secrets: a key that short protects
  // nothing, and redacting it would garble ordinary words ("v2", "true").
  static constexpr std::size_t kMinSecretBytes = 8;

  Redactor() = default;
  // Values shorter than kMinSecretBytes are ignored; a value given twice counts once.
  explicit Redactor(std::vector<std::string> secrets);

  bool empty() const noexcept { return secrets_.empty(); }

  // Plain text (an error message, a log detail): every occurrence of a
  // secret becomes kReplacement.
  void redact_text(std::string& text) const;

  // JSON text, or lines of JSON (an SSE stream, NDJSON): a secret is looked
  // for as JSON writes it (escaped; also with `\/` for '/'). An occurrence
  // inside a string becomes kReplacement, so valid JSON stays valid; so does
  // one outside any string (the text is not JSON there), unless the secret
  // could be a JSON number. Bytes inside an escape sequence (`\n`,
  // `\u00e9`) never start an occurrence: the string does not hold the
  // secret there.
  void redact_json(std::string& text) const;

  // An error built from upstream text: its message and detail as text, a
  // relayed upstream body as JSON.
  void redact(Error& error) const;

  // Linear in the text for each secret: one left-to-right search (memmem),
  // the JSON state walked forward once; the text is rebuilt only when
  // something is replaced. Secrets are few (a key and some header values).

 private:
  struct Secret {
    std::string raw;
    std::vector<std::string> in_json;  // how JSON text may write it
    bool number_like = false;          // only characters a JSON number has
  };

  std::vector<Secret> secrets_;  // longest first
};

}  // namespace sluice
