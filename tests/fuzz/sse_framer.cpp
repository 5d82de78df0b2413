// Fuzz target: the upstream SSE framer (net/sse.cpp). Invariants: the input
// cut at any point (and fed byte by byte) gives the same events, the same
// overflow, and the same data as fed whole; every event ends in a blank
// line; the work stays linear (bytes_scanned within about twice the bytes
// fed); the framer never holds much more than its limit.
#include <string>
#include <vector>

#include "fuzz_support.hpp"
#include "sluice/net/sse.hpp"

namespace {

struct Framed {
  std::vector<std::string> events;
  bool ok = true;
  std::size_t scanned = 0;
};

// A small limit, so that the fuzzer reaches the overflow path.
constexpr std::size_t kLimit = 1024;

template <class Pieces>
Framed frame(const Pieces& pieces) {
  sluice::net::SseFramer framer(kLimit);
  Framed out;
  for (std::string_view piece : pieces) {
    out.ok = framer.feed(piece, [&](std::string_view e) { out.events.emplace_back(e); }) && out.ok;
    FUZZ_CHECK(framer.pending() <= kLimit + piece.size(), "the framer holds more than its limit and one feed");
  }
  if (out.ok) framer.finish([&](std::string_view e) { out.events.emplace_back(e); });
  out.scanned = framer.bytes_scanned();
  return out;
}

// The event ends in a blank line: a line break, after either nothing (an
// event of no lines) or another line break.
std::string_view without_break(std::string_view e) {
  if (e.ends_with("\r\n")) return e.substr(0, e.size() - 2);
  if (e.ends_with("\n") || e.ends_with("\r")) return e.substr(0, e.size() - 1);
  return e;
}
bool ends_in_blank_line(std::string_view e) {
  const std::string_view before = without_break(e);
  if (before.size() == e.size()) return false;
  return before.empty() || before.ends_with('\n') || before.ends_with('\r');
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto split = sluice::fuzz::split_input(sluice::fuzz::text_of(data, size));
  const std::string_view s = split.rest;

  const Framed whole = frame(std::vector<std::string_view>{s});
  const Framed halves = frame(std::vector<std::string_view>{s.substr(0, split.at), s.substr(split.at)});
  FUZZ_CHECK(whole.ok == halves.ok, "a split changes whether the stream overflows");
  if (whole.ok) FUZZ_CHECK(whole.events == halves.events, "a split changes the events");
  FUZZ_CHECK(whole.scanned <= 2 * s.size() + 16, "the framer scans more than twice the bytes fed");

  if (s.size() <= 4096) {  // byte by byte: the finest cut, quadratic if anything is
    std::vector<std::string_view> bytes;
    for (std::size_t i = 0; i < s.size(); ++i) bytes.push_back(s.substr(i, 1));
    const Framed fine = frame(bytes);
    FUZZ_CHECK(fine.ok == whole.ok, "byte-by-byte feeding changes whether the stream overflows");
    if (whole.ok) FUZZ_CHECK(fine.events == whole.events, "byte-by-byte feeding changes the events");
    FUZZ_CHECK(fine.scanned <= 2 * s.size() + 16, "byte-by-byte feeding scans more than twice the bytes fed");
  }

  for (const std::string& e : whole.events) {
    FUZZ_CHECK(ends_in_blank_line(e), e);
    FUZZ_CHECK(e.size() <= kLimit, "an event over the limit was released");
    std::string scratch;
    const std::string data_copy = sluice::net::sse_data(e);
    FUZZ_CHECK(sluice::net::sse_data(e, scratch) == data_copy, "the two sse_data disagree");
    FUZZ_CHECK(data_copy.size() <= e.size(), "an event's data is larger than the event");
    (void)sluice::net::is_done_event(e);
  }
  return 0;
}
