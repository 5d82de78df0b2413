// HTTP/1.1 framing the sessions use, without I/O: reading a request from what
// is already buffered, a body type with room for the JSON parser's padding,
// and the bytes of response heads and chunk lines.
#pragma once

#include <cstddef>
#include <cstring>
#include <charconv>
#include <optional>
#include <string>
#include <string_view>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include "openai_wire.hpp"
#include "reply.hpp"
#include "sluice/core/error.hpp"
#include "sluice/net/beast_chunked.hpp"

namespace sluice::server {

// A request body as a std::string with room for the JSON parser's padding
// behind it (kBodyPadding), so the body is validated where it was read
// instead of being copied into a larger buffer; string_body reserves exactly
// Content-Length.
struct PaddedStringBody : boost::beast::http::string_body {
  class reader {
   public:
    template <bool isRequest, class Fields>
    reader(boost::beast::http::header<isRequest, Fields>& header, std::string& body)
        : inner_(header, body), body_(body) {}

    void init(const boost::optional<std::uint64_t>& length, boost::system::error_code& ec) {
      ec = {};
      if (!length || *length == 0) return;  // chunked: grows as it comes; none: nothing to hold
      if (*length > body_.max_size() - kBodyPadding) {
        ec = boost::beast::http::error::buffer_overflow;
        return;
      }
      body_.reserve(static_cast<std::size_t>(*length) + kBodyPadding);
    }
    template <class Buffers>
    std::size_t put(const Buffers& buffers, boost::system::error_code& ec) { return inner_.put(buffers, ec); }
    void finish(boost::system::error_code& ec) { inner_.finish(ec); }

   private:
    boost::beast::http::string_body::reader inner_;
    std::string& body_;
  };
};

enum class Until { header, message };

// True when the bytes of whole header fields hold an obs-fold (a line break
// followed by a space or tab: a field continued on the next line).
inline bool has_obs_fold(std::string_view fields) {
  for (std::size_t at = fields.find('\n'); at != std::string_view::npos && at + 1 < fields.size();
       at = fields.find('\n', at + 1))
    if (fields[at + 1] == ' ' || fields[at + 1] == '\t') return true;
  return false;
}

// Parses what `buffer` already holds, without I/O: a typical request arrives
// whole in the first read, and Beast's async_read on bytes already there
// completes through a posted handler, a scheduler round trip each. Returns
// need_more when the socket must be read (the caller reads into `buffer`
// and calls again; the parser continues from its state); the parser's
// limits apply as they do in Beast's reads.
//
// A head with an obs-fold is refused (bad_obs_fold). Beast joins the lines
// with a space, as RFC 9112 section 5.2 allows, but a proxy in front that
// reads the continuation as a field of its own (" Transfer-Encoding:
// chunked") would frame the body differently: a smuggling hole. Beast hands
// over whole fields, and a field always takes its continuation lines with
// it, so the bytes each put() consumes are checked once: linear.
//
// A chunked body is given to Beast kMinChunkedPut bytes or more at a time
// (net/beast_chunked.hpp: Beast 1.81's false assertion on a body's end
// that arrives in pieces). A request body is read whole before it is
// used, so waiting for five bytes loses nothing.
//
// `max_header_bytes` (the limit set on the parser; 0 once the head is read)
// bounds the whole head, request line included, however it arrives. Beast
// counts from where its state starts: a head that comes whole or trickles
// is bounded as a whole, but one whose request line came in an earlier
// read gave the fields the whole limit again, and a whole head read at once
// did too. So the head is offered at most the limit, and once the request
// line is read on its own, Beast's limit is what is left of it.
using net::kMinChunkedPut;

// What a chunked body may hold unread while Beast waits for the end of a
// chunk's size line (extensions included) or of the trailer fields. Beast
// 1.81 bounds neither (boostorg/beast#3077 adds 8 KiB in a later Boost),
// nor are they body bytes the body limit counts: an endless quoted
// extension grew the buffer until the body timeout, and Beast parsed it
// again from its start on every read, quadratic. Over this it is a bad chunk.
inline constexpr std::size_t kMaxChunkHeadBytes = 8 * 1024;

template <class Parser>
boost::system::error_code parse_buffered(Parser& parser, boost::beast::flat_buffer& buffer, Until until,
                                         std::size_t max_header_bytes = 0) {
  auto done = [&] { return until == Until::header ? parser.is_header_done() : parser.is_done(); };
  auto enough = [&] { return !(parser.is_header_done() && parser.chunked()) || buffer.size() >= kMinChunkedPut; };
  while (!done() && buffer.size() > 0 && enough()) {
    boost::system::error_code ec;
    const bool in_head = !parser.is_header_done();
    boost::asio::const_buffer bytes = buffer.data();
    const bool withheld = in_head && max_header_bytes > 0 && bytes.size() > max_header_bytes;
    if (withheld) bytes = boost::asio::const_buffer(bytes.data(), max_header_bytes);
    const std::size_t used = parser.put(bytes, ec);
    if (in_head && has_obs_fold({static_cast<const char*>(bytes.data()), used}))
      return boost::beast::http::error::bad_obs_fold;
    // The whole limit was offered and the head has not ended in it.
    if (withheld && ec == boost::beast::http::error::need_more) return boost::beast::http::error::header_limit;
    // Only the request line is consumed without the whole head, once.
    if (in_head && max_header_bytes > 0 && used > 0 && !parser.is_header_done())
      parser.header_limit(static_cast<std::uint32_t>(max_header_bytes - used));
    buffer.consume(used);
    if (ec == boost::beast::http::error::need_more && !in_head && parser.chunked() && buffer.size() > kMaxChunkHeadBytes)
      return boost::beast::http::error::bad_chunk;
    if (ec) return ec;  // need_more included
    if (used == 0) break;
  }
  return done() ? boost::system::error_code{} : boost::system::error_code(boost::beast::http::error::need_more);
}

// Beast's HTTP parse errors (as opposed to socket errors).
bool is_http_error(const boost::system::error_code& ec);

// RFC 9112 section 3.2: an HTTP/1.1 request carries exactly one Host header;
// a server must answer 400 otherwise.
std::optional<Error> host_problem(const boost::beast::http::request_header<>& head);

// The response head, formatted by hand: Beast's serializer was the largest
// user-space cost per request. Values copied from elsewhere are checked for
// line breaks; names come from our own code.
std::string response_head(int status, const Reply& reply, std::string_view request_id, bool keep_alive,
                          bool http10, std::string_view framing);

// "Content-Length: N", formatted without a heap allocation.
class ContentLength {
 public:
  explicit ContentLength(std::size_t n) {
    constexpr std::string_view kName = "Content-Length: ";
    std::memcpy(text_, kName.data(), kName.size());
    size_ = static_cast<std::size_t>(std::to_chars(text_ + kName.size(), text_ + sizeof text_, n).ptr - text_);
  }
  std::string_view view() const { return {text_, size_}; }

 private:
  char text_[40];
  std::size_t size_;
};

// "<size in hex>\r\n" opening one chunk of a chunked body.
std::string chunk_size_line(std::size_t size);

}  // namespace sluice::server
