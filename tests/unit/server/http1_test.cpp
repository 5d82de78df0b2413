// parse_buffered and the obs-fold refusal (http1.hpp): a folded field is
// refused however the head arrives, and nothing else is.
#include "http1.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sluice::server {
namespace {

namespace http = boost::beast::http;

// Feeds `text` to `parser` in pieces of `piece` bytes, as the session does;
// the result of parsing until `until`.
template <class Parser>
boost::system::error_code feed(Parser& parser, const std::string& text, std::size_t piece, Until until,
                               std::size_t max_header_bytes = 8192) {
  parser.header_limit(static_cast<std::uint32_t>(max_header_bytes));
  boost::beast::flat_buffer buffer;
  boost::system::error_code ec = http::error::need_more;
  for (std::size_t at = 0; at < text.size() && ec == http::error::need_more; at += piece) {
    const std::string part = text.substr(at, piece);
    boost::asio::buffer_copy(buffer.prepare(part.size()), boost::asio::buffer(part));
    buffer.commit(part.size());
    ec = parse_buffered(parser, buffer, until, max_header_bytes);
  }
  return ec;
}

// The result of the header phase of `head` arriving in pieces.
boost::system::error_code parse_head(const std::string& head, std::size_t piece) {
  http::request_parser<http::string_body> parser;
  return feed(parser, head, piece, Until::header);
}

TEST(ParseBuffered, AFoldedFieldIsRefusedHoweverTheHeadArrives) {
  const std::string folded = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\r\n Transfer-Encoding: chunked\r\n\r\n";
  const std::string tab = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\r\n\tb\r\nX-B: c\r\n\r\n";
  for (std::size_t piece : {std::size_t{1}, std::size_t{2}, std::size_t{7}, std::size_t{4096}}) {
    EXPECT_EQ(parse_head(folded, piece), http::error::bad_obs_fold) << piece;
    EXPECT_EQ(parse_head(tab, piece), http::error::bad_obs_fold) << piece;
  }
}

TEST(ParseBuffered, AnUnfoldedHeadIsAcceptedWithItsSpacesAndTabs) {
  const std::string head = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: \ta b\t \r\nX-B:c\r\n\r\n";
  for (std::size_t piece : {std::size_t{1}, std::size_t{3}, std::size_t{4096}})
    EXPECT_EQ(parse_head(head, piece), boost::system::error_code{}) << piece;
}

// A request parser that records the size of every put() of the body.
struct RecordingParser {
  http::request_parser<http::string_body> inner;
  std::vector<std::size_t> body_puts;
  bool is_header_done() const { return inner.is_header_done(); }
  bool is_done() const { return inner.is_done(); }
  bool chunked() const { return inner.chunked(); }
  void header_limit(std::uint32_t limit) { inner.header_limit(limit); }
  std::size_t put(boost::asio::const_buffer bytes, boost::system::error_code& ec) {
    if (inner.is_header_done()) body_puts.push_back(bytes.size());
    return inner.put(bytes, ec);
  }
};

// Beast 1.81 asserts when, after the last chunk, it is offered fewer than
// five bytes (boostorg/beast#2861): a client sending its body byte by byte
// aborted builds with assertions. The body still completes, whatever the
// pieces.
TEST(ParseBuffered, AChunkedBodyGoesToBeastFiveBytesOrMoreAtATime) {
  const std::string request =
      "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "2\r\n{}\r\n0\r\nX-Trailer: t\r\n\r\n";
  for (std::size_t piece : {std::size_t{1}, std::size_t{2}, std::size_t{3}, std::size_t{4096}}) {
    RecordingParser parser;
    EXPECT_EQ(feed(parser, request, piece, Until::message), boost::system::error_code{}) << piece;
    EXPECT_EQ(parser.inner.get().body(), "{}") << piece;
    for (std::size_t n : parser.body_puts) EXPECT_GE(n, kMinChunkedPut) << piece;
  }
}

// The limit bounds the whole head, request line included: a head of
// exactly the limit is read and one byte more is refused, whether it comes
// whole, byte by byte, or with its request line in a read of its own.
TEST(ParseBuffered, TheHeaderLimitBoundsTheWholeHeadHoweverItArrives) {
  constexpr std::size_t kLimit = 1024;
  const std::string line = "GET /v1/models HTTP/1.1\r\nHost: x\r\n";
  auto head_of = [&](std::size_t size) {
    const std::string start = line + "X-Pad: ";
    return start + std::string(size - start.size() - 4, 'a') + "\r\n\r\n";
  };
  for (std::size_t piece : {std::size_t{1}, std::size_t{7}, line.size(), std::size_t{4096}}) {
    http::request_parser<http::string_body> at_limit, over;
    EXPECT_EQ(feed(at_limit, head_of(kLimit) + "GET / HTTP/1.1\r\n", piece, Until::header, kLimit),
              boost::system::error_code{}) << piece;
    EXPECT_EQ(feed(over, head_of(kLimit + 1) + "GET / HTTP/1.1\r\n", piece, Until::header, kLimit),
              http::error::header_limit) << piece;
  }
}

// A chunk's size line and the trailers are not body bytes: bounded on their
// own, however they arrive (an endless quoted extension grew the buffer and
// was parsed again on every read).
TEST(ParseBuffered, AChunkSizeLineOrTrailersOverTheBoundAreABadChunk) {
  const std::string head = "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  const std::string endless_extension = head + "4;name=\"" + std::string(kMaxChunkHeadBytes + 100, 'a');
  const std::string endless_trailers = head + "0\r\nX-T: " + std::string(kMaxChunkHeadBytes + 100, 'a');
  const std::string fine = head + "2;name=\"" + std::string(100, 'a') + "\"\r\n{}\r\n0\r\nX-T: t\r\n\r\n";
  for (std::size_t piece : {std::size_t{1}, std::size_t{1000}, std::size_t{1u << 16}}) {
    http::request_parser<http::string_body> a, b, c;
    EXPECT_EQ(feed(a, endless_extension, piece, Until::message), http::error::bad_chunk) << piece;
    EXPECT_EQ(feed(b, endless_trailers, piece, Until::message), http::error::bad_chunk) << piece;
    EXPECT_EQ(feed(c, fine, piece, Until::message), boost::system::error_code{}) << piece;
  }
}

TEST(HasObsFold, OnlyALineBreakFollowedBySpaceOrTab) {
  EXPECT_TRUE(has_obs_fold("X: a\r\n b\r\n"));
  EXPECT_TRUE(has_obs_fold("X: a\r\n\tb\r\n"));
  EXPECT_FALSE(has_obs_fold("X: a b\r\nY: c\r\n"));
  EXPECT_FALSE(has_obs_fold("X: a\r\n"));  // a line break at the end looks no further
  EXPECT_FALSE(has_obs_fold(""));
}

}  // namespace
}  // namespace sluice::server
