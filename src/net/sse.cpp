#include "sluice/net/sse.hpp"

#include <string.h>  // memmem

#include <cstring>

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
  // memchr, which is vectorised. The LF found is kept while the CR search
  // walks towards it, so CR-only lines do not each search to the next LF.
  std::size_t lf = 0;
  bool lf_known = false;
  while (i < size) {
    if (!lf_known || lf < i) {
      const void* at = std::memchr(b + i, '\n', size - i);
      lf = at ? static_cast<std::size_t>(static_cast<const char*>(at) - b) : size;
      bytes_scanned_ += lf - i;
      lf_known = true;
    }
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
  consumed_ = scanned_ = line_start_ = 0;
  return false;
}

Error SseFramer::overflow_error(std::string_view provider) const {
  return make_error(errc::upstream_protocol, "provider '" + std::string(provider) +
                                                 "': upstream sent an SSE event larger than " +
                                                 std::to_string(max_event_bytes_) + " bytes");
}

std::string sse_data(std::string_view raw) {
  std::string data;
  bool first = true;
  while (!raw.empty()) {
    std::size_t eol = raw.find_first_of("\r\n");
    std::string_view line = raw.substr(0, eol);
    if (eol == std::string_view::npos) raw = {};
    else raw.remove_prefix(eol + ((raw[eol] == '\r' && eol + 1 < raw.size() && raw[eol + 1] == '\n') ? 2 : 1));
    if (!line.starts_with("data")) continue;
    std::string_view value = line.substr(4);
    if (!value.empty() && value.front() != ':') continue;  // a field named "dataX"
    if (!value.empty()) value.remove_prefix(1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    if (!first) data += '\n';
    data += value;
    first = false;
  }
  return data;
}

bool is_done_event(std::string_view raw) {
  // Every event of a stream asks this: parse only those that contain the
  // marker at all (memmem skips through the rest quickly).
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
