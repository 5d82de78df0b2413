// Invariants of what a stream relay or translator hands a client, shared by
// the stream fuzz targets: whole SSE events only, each one's data JSON (or
// OpenAI's [DONE]); and a way to cut upstream bytes into SSE events.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.hpp"
#include "sluice/net/sse.hpp"

namespace sluice::fuzz {

// The upstream bytes as the framer cuts them (events over its limit end the list).
inline std::vector<std::string> events_of(std::string_view bytes) {
  net::SseFramer framer;
  std::vector<std::string> events;
  auto keep = [&](std::string_view e) { events.emplace_back(e); };
  if (framer.feed(bytes, keep)) framer.finish(keep);
  return events;
}

// `out` is whole events, and an SDK can parse each one's data.
inline void check_client_events(std::string_view out) {
  net::SseFramer framer(out.size() + 1);
  std::size_t released = 0;
  auto check = [&](std::string_view e) {
    released += e.size();
    const std::string data = net::sse_data(e);
    FUZZ_CHECK(data.empty() || data == "[DONE]" || is_json(data), data);
  };
  const bool ok = framer.feed(out, check);
  framer.finish(check);  // an event ending in a lone CR is whole once the stream ends
  // What is left may only be an empty event (a lone CR blank line), which
  // a reader cannot tell from half a CRLF at the end and which carries nothing.
  const std::string_view rest = out.substr(std::min(released, out.size()));
  FUZZ_CHECK(ok && (rest.empty() || rest == "\r"), "the client is sent part of an event: " + std::string(rest));
}

}  // namespace sluice::fuzz
