// The configuration keys the loader accepts, listed by the loader itself:
// the same field lists that reject unknown keys (config_reader.hpp), walked
// once over an empty document. The documentation test checks
// docs/configuration.md against it.
#pragma once

#include <string>
#include <vector>

namespace sluice {

// Every key path the loader accepts, sorted: "server.listen",
// "providers[].api_key", "auth.keys[].tenant"... (a list's items as "[]").
// The free-form keys of a mapping (providers[].headers names, a router's
// tier names) are not listed; the mapping's own key is.
std::vector<std::string> config_key_paths();

}  // namespace sluice
