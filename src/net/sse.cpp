#include "sluice/net/sse.hpp"

#include <string.h>  // memmem

#include <algorithm>
#include <cstring>
#include <optional>

namespace sluice::net {

// Finds the end of the first complete event after consumed_: the position just
// past the blank line that ends it. Resumes where the last search stopped
// (scanned_, line_start_), so an event arriving in many pieces is scanned
// once: re-deriving the line start by walking back made a long line fed in
// small pieces quadratic.
std::size_t SseFramer::next_event_end() {
  const char* const b = buffer_.data();
  const std::size_t size = buffer_.size();
  std::size_t i = consumed_ + scanned_;
  // A line that ends where it began is blank and ends the event.
  std::size_t line_start = consumed_ + line_start_;
  // Lines (a whole JSON chunk each) are long: jump between breaks with
  // memchr, which is vectorised. The LF found (or the end of an LF-free
  // search) is kept, across lines, events and feeds, while the CR search
  // walks towards it, so CR-only lines and events do not each search to the
  // next LF.
  while (i < size) {
    if (!lf_found_ || lf_ < i) {
      const std::size_t from = lf_found_ ? i : std::max(i, lf_);  // before lf_: known LF-free
      const void* at = std::memchr(b + from, '\n', size - from);
      lf_found_ = at != nullptr;
      lf_ = at ? static_cast<std::size_t>(static_cast<const char*>(at) - b) : size;
      bytes_scanned_ += lf_ - from;
    }
    const std::size_t lf = lf_;
    const void* cr = std::memchr(b + i, '\r', lf - i);
    const std::size_t line_break = cr ? static_cast<std::size_t>(static_cast<const char*>(cr) - b) : lf;
    bytes_scanned_ += line_break - i;
    if (line_break == size) {
      i = size;
      break;
    }
    i = line_break;
    std::size_t next = i + 1;
    if (b[i] == '\r') {
      // CRLF counts as one break; a CR at the very end may be the start of
      // a CRLF whose LF has not arrived: wait for more bytes.
      if (next == size) break;
      if (b[next] == '\n') ++next;
    }
    if (i == line_start) {  // a blank line ends the event
      scanned_ = 0;
      line_start_ = 0;
      return next;
    }
    line_start = next;
    i = next;
  }
  scanned_ = i - consumed_;
  line_start_ = line_start - consumed_;
  return std::string::npos;
}

bool SseFramer::overflow() {
  overflowed_ = true;
  // The stream is over: give back what the oversize event took.
  std::string().swap(buffer_);
  consumed_ = scanned_ = line_start_ = lf_ = 0;
  lf_found_ = false;
  return false;
}

Error SseFramer::overflow_error(std::string_view provider) const {
  return make_error(errc::upstream_protocol, "provider '" + std::string(provider) +
                                                 "': upstream sent an SSE event larger than " +
                                                 std::to_string(max_event_bytes_) + " bytes");
}

namespace {

// Calls on_line(line) for each line of `raw`, without its break (LF, CRLF or
// CR). memchr jumps between breaks (a line is a whole JSON chunk; a byte-wise
// search for either break byte cost ~5 ns a byte), and the LF found is kept
// while CR-only lines are split before it, so the work stays linear.
template <class OnLine>
void for_each_line(std::string_view raw, OnLine&& on_line) {
  const char* p = raw.data();
  const char* const end = p + raw.size();
  const char* lf = nullptr;
  while (p < end) {
    if (!lf || lf < p) {
      lf = static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)));
      if (!lf) lf = end;
    }
    const char* cr = static_cast<const char*>(std::memchr(p, '\r', static_cast<std::size_t>(lf - p)));
    const char* line_end = cr ? cr : lf;
    on_line(std::string_view(p, static_cast<std::size_t>(line_end - p)));
    p = line_end + 1;
    if (cr && p < end && *p == '\n') ++p;
  }
}

// The value of a `data` field line ("data", "data:x", "data: x"); nullopt for
// any other line.
std::optional<std::string_view> data_value(std::string_view line) {
  if (!line.starts_with("data")) return std::nullopt;
  std::string_view value = line.substr(4);
  if (value.empty()) return value;
  if (value.front() != ':') return std::nullopt;  // a field named "dataX"
  value.remove_prefix(1);
  if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  return value;
}

}  // namespace

std::string_view sse_data(std::string_view raw, std::string& scratch) {
  std::string_view first;
  int lines = 0;
  for_each_line(raw, [&](std::string_view line) {
    const auto value = data_value(line);
    if (!value) return;
    if (++lines == 1) {
      first = *value;
      return;
    }
    if (lines == 2) scratch.assign(first);
    scratch += '\n';
    scratch += *value;
  });
  return lines > 1 ? std::string_view(scratch) : first;
}

std::string sse_data(std::string_view raw) {
  std::string scratch;
  return std::string(sse_data(raw, scratch));
}

bool is_done_event(std::string_view raw) {
  // Parse only events that contain the marker at all (memmem skips through
  // the rest quickly).
  constexpr std::string_view kDone = "[DONE]";
  if (!::memmem(raw.data(), raw.size(), kDone.data(), kDone.size())) return false;
  return sse_data(raw) == kDone;
}

std::string sse_event(std::string_view payload) {
  std::string out;
  out.reserve(payload.size() + 8);
  out += "data: ";
  out += payload;
  out += "\n\n";
  return out;
}

}  // namespace sluice::net
