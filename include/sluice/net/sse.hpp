// Server-sent events: splitting a byte stream into whole events (so a relay
// never forwards half an event), reading an event's data, and formatting.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace sluice::net {

// Incremental event splitter. Bytes go in as they arrive from the network;
// each complete event (its lines plus the blank line ending it) comes out as
// raw text, exactly as received. Lines may end in LF, CRLF or CR, also split
// across feeds.
//
// The work is linear in the bytes fed, however finely an event is cut.
class SseFramer {
 public:
  // Appends `bytes`, then calls on_event(std::string_view raw_event) for each
  // event completed by them, in order. The views die with the next feed().
  template <class OnEvent>
  void feed(std::string_view bytes, OnEvent&& on_event) {
    buffer_.erase(0, consumed_);
    consumed_ = 0;
    buffer_.append(bytes);
    std::size_t end;
    while ((end = next_event_end()) != std::string::npos) {
      on_event(std::string_view(buffer_).substr(consumed_, end - consumed_));
      consumed_ = end;
    }
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
    }
  }

  // Bytes of an event not yet complete.
  std::size_t pending() const noexcept { return buffer_.size() - consumed_; }

  // Bytes examined while looking for line breaks, since construction: stays
  // within about twice the bytes fed (tests hold the framer to that).
  std::size_t bytes_scanned() const noexcept { return bytes_scanned_; }

 private:
  std::size_t next_event_end();

  std::string buffer_;
  // Offsets into buffer_; scanned_ and line_start_ count from consumed_, so
  // they survive feed() dropping the consumed bytes in front.
  std::size_t consumed_ = 0;    // start of the first incomplete event
  std::size_t scanned_ = 0;     // bytes of that event already searched for a blank line
  std::size_t line_start_ = 0;  // where its current (unfinished) line began
  std::size_t bytes_scanned_ = 0;
};

// The event's data: its `data:` lines joined by '\n' (one leading space after
// the colon removed, per the SSE spec). Empty if there are none.
std::string sse_data(std::string_view raw_event);

// True when the event is the OpenAI stream terminator `data: [DONE]`.
bool is_done_event(std::string_view raw_event);

// "data: <payload>\n\n"
std::string sse_event(std::string_view payload);

}  // namespace sluice::net
