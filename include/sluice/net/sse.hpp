// Server-sent events: splitting a byte stream into whole events (so a relay
// never forwards half an event), reading an event's data, and formatting.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "sluice/core/error.hpp"

namespace sluice::net {

// Incremental event splitter. Bytes go in as they arrive from the network;
// each complete event (its lines plus the blank line ending it) comes out as
// raw text, exactly as received. Lines may end in LF, CRLF or CR, also split
// across feeds.
//
// The work is linear in the bytes fed, however finely an event is cut, and
// the event being assembled is bounded: an event larger than
// max_event_bytes (complete or not) is never released; the framer reports the
// overflow, drops what it holds and stays overflowed, since the stream can no
// longer be split reliably. It holds at most max_event_bytes plus one feed.
class SseFramer {
 public:
  // Well above any event an LLM upstream sends (OpenAI chunks are a few KiB;
  // an upstream that does not stream a tool call sends its arguments in one
  // event, and a whole 128k-token answer is about half a MiB of text),
  // and small enough that a broken or hostile upstream cannot make a stream
  // hold much more memory than a request body (server.max_body_bytes, 8 MiB).
  static constexpr std::size_t kDefaultMaxEventBytes = 4u << 20;

  explicit SseFramer(std::size_t max_event_bytes = kDefaultMaxEventBytes) noexcept
      : max_event_bytes_(max_event_bytes) {}

  // Appends `bytes`, then calls on_event(std::string_view raw_event) for each
  // event completed by them, in order. The views die with the next feed().
  // Returns false once an event exceeded max_event_bytes (see overflowed());
  // events completed before it in the same bytes were released.
  template <class OnEvent>
  [[nodiscard]] bool feed(std::string_view bytes, OnEvent&& on_event) {
    if (overflowed_) return false;
    buffer_.erase(0, consumed_);
    // lf_ is an offset into buffer_: it moves with the bytes, and is
    // forgotten when it pointed into the events just dropped.
    if (lf_ >= consumed_) lf_ -= consumed_;
    else lf_ = 0, lf_found_ = false;
    consumed_ = 0;
    buffer_.append(bytes);
    std::size_t end;
    while ((end = next_event_end()) != std::string::npos) {
      if (end - consumed_ > max_event_bytes_) return overflow();
      on_event(std::string_view(buffer_).substr(consumed_, end - consumed_));
      consumed_ = end;
    }
    if (pending() > max_event_bytes_) return overflow();
    return true;
  }

  // At the end of the stream: an event whose blank line ended in a lone CR was
  // held back in case an LF followed; no more bytes will come, so release it.
  template <class OnEvent>
  void finish(OnEvent&& on_event) {
    const std::string_view rest = std::string_view(buffer_).substr(consumed_);
    if (rest.size() >= 2 && rest.back() == '\r' && (rest[rest.size() - 2] == '\r' || rest[rest.size() - 2] == '\n')) {
      on_event(rest);
      consumed_ = buffer_.size();
      scanned_ = 0;
      line_start_ = 0;
      lf_ = 0;
      lf_found_ = false;
    }
  }

  // Bytes of an event not yet complete.
  std::size_t pending() const noexcept { return buffer_.size() - consumed_; }

  // An event exceeded max_event_bytes; every later feed() returns false.
  bool overflowed() const noexcept { return overflowed_; }
  std::size_t max_event_bytes() const noexcept { return max_event_bytes_; }

  // The error a stream ends with when its framer overflowed: upstream_protocol,
  // naming the provider and the limit.
  Error overflow_error(std::string_view provider) const;

  // Bytes examined while looking for line breaks, since construction: stays
  // within about twice the bytes fed (tests hold the framer to that).
  std::size_t bytes_scanned() const noexcept { return bytes_scanned_; }

 private:
  std::size_t next_event_end();
  bool overflow();

  std::string buffer_;
  std::size_t max_event_bytes_;
  // Offsets into buffer_; scanned_ and line_start_ count from consumed_, so
  // they survive feed() dropping the consumed bytes in front.
  std::size_t consumed_ = 0;    // start of the first incomplete event
  std::size_t scanned_ = 0;     // bytes of that event already searched for a blank line
  std::size_t line_start_ = 0;  // where its current (unfinished) line began
  // Where the LF search stopped, in buffer_: the next LF when lf_found_,
  // else the end of a search that found none (no LF before it).
  std::size_t lf_ = 0;
  bool lf_found_ = false;
  std::size_t bytes_scanned_ = 0;
  bool overflowed_ = false;
};

// The event's data: its `data:` lines joined by '\n' (one leading space after
// the colon removed, per the SSE spec). Empty if there are none.
std::string sse_data(std::string_view raw_event);
// The same without a copy for the usual event of one data line: a view into
// raw_event, or, for several data lines, into `scratch`, which holds them
// joined. Valid while both are.
std::string_view sse_data(std::string_view raw_event, std::string& scratch);

// True when the event is the OpenAI stream terminator `data: [DONE]`.
bool is_done_event(std::string_view raw_event);

// "data: <payload>\n\n"
std::string sse_event(std::string_view payload);

}  // namespace sluice::net
