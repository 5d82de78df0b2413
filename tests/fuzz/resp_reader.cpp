// Fuzz target: the Redis RESP2 reply reader (redis/resp.cpp), fed as the
// connection feeds it: reads of at most 64 KiB (Connection::kReadChunk),
// after each the whole replies out until it needs more. (hiredis moves what
// is left of its buffer forward after each KiB it parsed, so one feed of
// megabytes would cost the square of its size; the connection never feeds
// more than a read.)
// Invariants: a failure is an Error with a message and the reader stays
// failed; the same bytes cut anywhere (or byte by byte) give the same
// replies when neither run fails; every reply it returns is within the
// bound it was given.
#include <string>
#include <vector>

#include "fuzz_support.hpp"
#include "resp.hpp"

namespace {

constexpr std::size_t kMaxReplyBytes = 64 * 1024;

struct Read {
  std::vector<sluice::redis::Reply> replies;
  bool failed = false;
};

// Elements and string bytes of a reply, as the reader counts them.
std::size_t weight(const sluice::redis::Reply& r) {
  std::size_t n = sizeof(sluice::redis::Reply);
  if (r.is_array())
    for (const auto& e : r.elements()) n += weight(e);
  else if (r.is_string() || r.is_status() || r.is_error())
    n += r.as_string().size();
  return n;
}

template <class Pieces>
Read read_all(const Pieces& pieces) {
  sluice::redis::ReplyReader reader(kMaxReplyBytes);
  Read out;
  for (std::string_view piece : pieces) {
    reader.feed(piece.data(), piece.size());
    for (;;) {
      auto next = reader.next();
      if (!next) {
        FUZZ_CHECK(!next.error().message.empty(), "a reader failure without a message");
        out.failed = true;
        FUZZ_CHECK(!reader.next(), "the reader recovered after a failure");
        return out;
      }
      if (!*next) break;
      FUZZ_CHECK(weight(**next) <= kMaxReplyBytes + sizeof(sluice::redis::Reply), "a reply over the bound");
      out.replies.push_back(std::move(**next));
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto split = sluice::fuzz::split_input(sluice::fuzz::text_of(data, size));
  const std::string_view s = split.rest;
  std::vector<std::string_view> reads;
  for (std::size_t i = 0; i < s.size(); i += 64 * 1024) reads.push_back(s.substr(i, 64 * 1024));
  const Read whole = read_all(reads);
  const Read halves = read_all(std::vector<std::string_view>{s.substr(0, split.at), s.substr(split.at)});
  if (!whole.failed && !halves.failed) FUZZ_CHECK(whole.replies == halves.replies, "a split changes the replies");
  if (s.size() <= 2048) {
    std::vector<std::string_view> bytes;
    for (std::size_t i = 0; i < s.size(); ++i) bytes.push_back(s.substr(i, 1));
    const Read fine = read_all(bytes);
    if (!whole.failed && !fine.failed) FUZZ_CHECK(whole.replies == fine.replies, "byte-by-byte changes the replies");
  }
  for (const auto& r : whole.replies) (void)r.to_string();
  return 0;
}
