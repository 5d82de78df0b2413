#include "sluice/net/sse.hpp"

#include <string.h>  // memmem

#include <cstring>

namespace sluice::net {

// Finds the end of the first complete event after consumed_: the position just
// past the blank line that ends it. Resumes where the last search stopped, so
// an event arriving in many pieces is scanned once.
std::size_t SseFramer::next_event_end() {
  const std::string_view b(buffer_);
  std::size_t i = consumed_ + scanned_;
  // `line_start` is where the current line began; a line that ends where it
  // began is blank and ends the event.
  std::size_t line_start = consumed_;
  // Re-derive line_start for a resumed scan: the last line break before i.
  for (std::size_t j = i; j > consumed_; --j) {
    if (b[j - 1] == '\n' || b[j - 1] == '\r') {
      line_start = j;
      break;
    }
  }
  while (i < b.size()) {
    // Jump to the next line break: memchr is vectorised, and lines (a whole
    // JSON chunk each) are long.
    const char* from = b.data() + i;
    const std::size_t left = b.size() - i;
    const char* lf = static_cast<const char*>(std::memchr(from, '\n', left));
    const char* cr = static_cast<const char*>(std::memchr(from, '\r', lf ? static_cast<std::size_t>(lf - from) : left));
    const char* line_break = cr ? cr : lf;
    if (!line_break) {
      i = b.size();
      break;
    }
    i = static_cast<std::size_t>(line_break - b.data());
    const char c = *line_break;
    std::size_t next = i + 1;
    if (c == '\r') {
      // CRLF counts as one break; a CR at the very end may be the start of
      // a CRLF whose LF has not arrived: wait for more bytes.
      if (next == b.size()) break;
      if (b[next] == '\n') ++next;
    }
    if (i == line_start) {  // a blank line ends the event
      scanned_ = 0;
      return next;
    }
    line_start = next;
    i = next;
  }
  scanned_ = i - consumed_;
  return std::string::npos;
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
