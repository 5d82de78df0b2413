// SseFramer (whole events out of arbitrary byte pieces), sse_data,
// is_done_event and sse_event.
#include "sluice/net/sse.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sluice::net {
namespace {

using Events = std::vector<std::string>;

Events feed_all(SseFramer& f, std::string_view bytes) {
  Events out;
  EXPECT_TRUE(f.feed(bytes, [&](std::string_view e) { out.emplace_back(e); }));
  return out;
}

Events whole(std::string_view bytes) {
  SseFramer f;
  return feed_all(f, bytes);
}

Events byte_at_a_time(std::string_view bytes) {
  SseFramer f;
  Events out;
  for (char c : bytes) {
    Events got = feed_all(f, std::string_view(&c, 1));
    out.insert(out.end(), got.begin(), got.end());
  }
  return out;
}

// Every way of cutting `bytes` into two feeds, and into three.
void expect_same_events_for_every_split(std::string_view bytes, const Events& expected) {
  for (std::size_t i = 0; i <= bytes.size(); ++i) {
    SseFramer f;
    Events got = feed_all(f, bytes.substr(0, i));
    Events rest = feed_all(f, bytes.substr(i));
    got.insert(got.end(), rest.begin(), rest.end());
    ASSERT_EQ(got, expected) << "split at " << i;
  }
  for (std::size_t i = 0; i <= bytes.size(); ++i) {
    for (std::size_t j = i; j <= bytes.size(); ++j) {
      SseFramer f;
      Events got = feed_all(f, bytes.substr(0, i));
      for (std::string_view piece : {bytes.substr(i, j - i), bytes.substr(j)}) {
        Events more = feed_all(f, piece);
        got.insert(got.end(), more.begin(), more.end());
      }
      ASSERT_EQ(got, expected) << "split at " << i << " and " << j;
    }
  }
}

TEST(SseFramer, CompleteEventsComeOutInOrder) {
  const Events events = whole("data: a\n\ndata: b\n\n");
  EXPECT_EQ(events, (Events{"data: a\n\n", "data: b\n\n"}));
}

TEST(SseFramer, IncompleteEventStaysPending) {
  SseFramer f;
  EXPECT_TRUE(feed_all(f, "data: a\n").empty());
  EXPECT_EQ(f.pending(), 8u);
  EXPECT_TRUE(feed_all(f, "data: b").empty());
  EXPECT_EQ(f.pending(), 15u);
  EXPECT_EQ(feed_all(f, "\n\n"), (Events{"data: a\ndata: b\n\n"}));
  EXPECT_EQ(f.pending(), 0u);
}

TEST(SseFramer, PendingCountsOnlyTheIncompleteTail) {
  SseFramer f;
  EXPECT_EQ(feed_all(f, "data: a\n\ndata: b").size(), 1u);
  EXPECT_EQ(f.pending(), 7u);
}

TEST(SseFramer, EmptyFeedIsHarmless) {
  SseFramer f;
  EXPECT_TRUE(feed_all(f, "").empty());
  EXPECT_EQ(f.pending(), 0u);
  EXPECT_TRUE(feed_all(f, "data: a\n").empty());
  EXPECT_TRUE(feed_all(f, "").empty());
  EXPECT_EQ(feed_all(f, "\n"), (Events{"data: a\n\n"}));
}

TEST(SseFramer, LineEndingsLfCrlfAndCr) {
  EXPECT_EQ(whole("data: a\n\n"), (Events{"data: a\n\n"}));
  EXPECT_EQ(whole("data: a\r\n\r\n"), (Events{"data: a\r\n\r\n"}));
  EXPECT_EQ(whole("data: a\r\rdata: b\r\rx"), (Events{"data: a\r\r", "data: b\r\r"}));
  // Mixed within one event.
  EXPECT_EQ(whole("event: x\r\ndata: a\rdata: b\n\r\n:"), (Events{"event: x\r\ndata: a\rdata: b\n\r\n"}));
}

TEST(SseFramer, CrlfIsOneLineBreakNotTwo) {
  // "\r\n" must not read as CR (end of line) then LF (blank line).
  EXPECT_TRUE(whole("data: a\r\n").empty());
  EXPECT_TRUE(whole("data: a\r\ndata: b\r\n").empty());
}

TEST(SseFramer, CrAtTheEndOfAFeedThenLfDoesNotMakeAnExtraEvent) {
  SseFramer f;
  Events got = feed_all(f, "data: a\r\n\r");
  Events more = feed_all(f, "\n");
  got.insert(got.end(), more.begin(), more.end());
  EXPECT_EQ(got, (Events{"data: a\r\n\r\n"}));
  EXPECT_EQ(f.pending(), 0u);
  // The next event is framed normally (no empty event from the LF).
  EXPECT_EQ(feed_all(f, "data: b\r\n\r\n"), (Events{"data: b\r\n\r\n"}));
}

TEST(SseFramer, CrOfANonBlankLineSplitFromItsLf) {
  SseFramer f;
  EXPECT_TRUE(feed_all(f, "data: a\r").empty());
  EXPECT_TRUE(feed_all(f, "\n").empty());
  EXPECT_TRUE(feed_all(f, "\r").empty());
  EXPECT_EQ(feed_all(f, "\ndata: b\r\n\r\n"), (Events{"data: a\r\n\r\n", "data: b\r\n\r\n"}));
}

TEST(SseFramer, CommentsAreEventsWithoutData) {
  const Events events = whole(": ping\n\ndata: x\n\n");
  ASSERT_EQ(events, (Events{": ping\n\n", "data: x\n\n"}));
  EXPECT_EQ(sse_data(events[0]), "");
  EXPECT_EQ(sse_data(events[1]), "x");
}

TEST(SseFramer, MultiLineAndMultiFieldEvents) {
  const Events events = whole("event: message\nid: 7\ndata: a\ndata: b\nretry: 10\n\n");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(sse_data(events[0]), "a\nb");
}

// An OpenAI-like stream with every line-ending style, comments and a
// multi-line event: any split of the bytes gives the same events.
const std::string kStream =
    ": keep-alive\n\n"
    "data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n"
    "data: {\"a\":1}\r\n\r\n"
    "event: x\rdata: one\rdata: two\r\r"
    "data: {\"usage\":null}\n\r\n"
    "data: [DONE]\n\n";
const Events kStreamEvents = {
    ": keep-alive\n\n",
    "data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n",
    "data: {\"a\":1}\r\n\r\n",
    "event: x\rdata: one\rdata: two\r\r",
    "data: {\"usage\":null}\n\r\n",
    "data: [DONE]\n\n",
};

TEST(SseFramer, WholeStream) { EXPECT_EQ(whole(kStream), kStreamEvents); }

TEST(SseFramer, OneByteAtATimeGivesIdenticalEvents) { EXPECT_EQ(byte_at_a_time(kStream), kStreamEvents); }

TEST(SseFramer, EverySplitGivesIdenticalEvents) { expect_same_events_for_every_split(kStream, kStreamEvents); }

TEST(SseFramer, CrlfStreamByteAtATime) {
  const std::string crlf = "data: 1\r\n\r\ndata: 2\r\n\r\n: c\r\n\r\ndata: [DONE]\r\n\r\n";
  const Events expected = {"data: 1\r\n\r\n", "data: 2\r\n\r\n", ": c\r\n\r\n", "data: [DONE]\r\n\r\n"};
  EXPECT_EQ(whole(crlf), expected);
  EXPECT_EQ(byte_at_a_time(crlf), expected);
  expect_same_events_for_every_split(crlf, expected);
}

TEST(SseFramer, CrOnlyStreamByteAtATime) {
  // A CR that ends an event waits for the next byte (it may be the CR of a
  // CRLF); a following event start releases it.
  const std::string cr = "data: 1\r\rdata: 2\r\r: c\r\rdata: [DONE]\r\rx";
  const Events expected = {"data: 1\r\r", "data: 2\r\r", ": c\r\r", "data: [DONE]\r\r"};
  EXPECT_EQ(whole(cr), expected);
  EXPECT_EQ(byte_at_a_time(cr), expected);
  expect_same_events_for_every_split(cr, expected);
}

TEST(SseFramer, FinishReleasesAnEventEndedByALoneCr) {
  // The last event of a CR-only stream is held back in case an LF follows;
  // at the end of the stream finish() must release it.
  SseFramer framer;
  Events got;
  auto collect = [&](std::string_view e) { got.emplace_back(e); };
  EXPECT_TRUE(framer.feed("data: 1\r\rdata: [DONE]\r\r", collect));
  EXPECT_EQ(got, (Events{"data: 1\r\r"}));
  framer.finish(collect);
  EXPECT_EQ(got, (Events{"data: 1\r\r", "data: [DONE]\r\r"}));
  EXPECT_EQ(framer.pending(), 0u);
}

TEST(SseFramer, FinishKeepsAnIncompleteEvent) {
  SseFramer framer;
  Events got;
  auto collect = [&](std::string_view e) { got.emplace_back(e); };
  EXPECT_TRUE(framer.feed("data: 1\r", collect));
  framer.finish(collect);
  EXPECT_TRUE(got.empty());
}

TEST(SseFramer, LargeEventInManyPieces) {
  const std::string payload(100'000, 'x');
  const std::string event = "data: " + payload + "\n\n";
  SseFramer f;
  Events got;
  for (std::size_t i = 0; i < event.size(); i += 997) {
    Events more = feed_all(f, std::string_view(event).substr(i, 997));
    got.insert(got.end(), more.begin(), more.end());
  }
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], event);
  EXPECT_EQ(sse_data(got[0]), payload);
}

// Linear work: bytes_scanned() counts what the line-break search examined,
// so these hold without timing anything. Re-deriving the start of the
// current line on every feed made an 8 MiB line fed 1 KiB at a time cost
// about 16 s (32 GiB examined).
TEST(SseFramer, LongLineFedInSmallPiecesIsScannedOnce) {
  const std::string event = "data: " + std::string(8u << 20, 'x') + "\n\n";
  SseFramer f(16u << 20);
  Events got;
  for (std::size_t i = 0; i < event.size(); i += 1024) {
    Events more = feed_all(f, std::string_view(event).substr(i, 1024));
    got.insert(got.end(), more.begin(), more.end());
  }
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].size(), event.size());
  EXPECT_LE(f.bytes_scanned(), 2 * event.size());
}

TEST(SseFramer, CrEndedLinesInOneFeedAreScannedOnce) {
  // No LF anywhere: the search for one must not run to the end once per line.
  std::string stream;
  std::string data;
  for (int i = 0; i < 20'000; ++i) {
    stream += "data: " + std::to_string(i) + "\r";
    if (i) data += '\n';
    data += std::to_string(i);
  }
  stream += "\rx";
  SseFramer f;
  const Events got = feed_all(f, stream);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(sse_data(got[0]), data);
  EXPECT_LE(f.bytes_scanned(), 2 * stream.size());
}

TEST(SseFramer, CrEndedEventsInOneFeedAreScannedOnce) {
  // Found by the sse_framer fuzzer: each event ended by a blank CR line
  // started a new search for an LF that ran to the end of the feed, so a
  // CR-only upstream cost the square of its burst size.
  std::string stream;
  for (int i = 0; i < 20'000; ++i) stream += "data: " + std::to_string(i) + "\r\r";
  stream += "x";
  SseFramer f;
  const Events got = feed_all(f, stream);
  ASSERT_EQ(got.size(), 20'000u);
  EXPECT_EQ(sse_data(got.back()), "19999");
  EXPECT_LE(f.bytes_scanned(), 2 * stream.size());
}

TEST(SseFramer, EventOfExactlyTheLimitIsReleased) {
  SseFramer f(9);
  EXPECT_EQ(feed_all(f, "data: a\n\n"), (Events{"data: a\n\n"}));
  EXPECT_FALSE(f.overflowed());
}

TEST(SseFramer, IncompleteEventOverTheLimitOverflows) {
  SseFramer f(16);
  Events got;
  auto collect = [&](std::string_view e) { got.emplace_back(e); };
  EXPECT_TRUE(f.feed("data: 0123456789", collect));  // 16 bytes: still fits
  EXPECT_FALSE(f.feed("a", collect));
  EXPECT_TRUE(f.overflowed());
  EXPECT_EQ(f.pending(), 0u) << "what the oversize event held is dropped";
  // It stays overflowed: the rest of the stream cannot be split reliably.
  EXPECT_FALSE(f.feed("\n\ndata: b\n\n", collect));
  f.finish(collect);
  EXPECT_TRUE(got.empty());
}

TEST(SseFramer, EventsBeforeAnOversizeOneAreReleased) {
  SseFramer f(16);
  Events got;
  EXPECT_FALSE(f.feed("data: a\n\ndata: 0123456789abcdef", [&](std::string_view e) { got.emplace_back(e); }));
  EXPECT_EQ(got, (Events{"data: a\n\n"}));
  EXPECT_TRUE(f.overflowed());
}

TEST(SseFramer, CompleteEventOverTheLimitIsNotReleased) {
  SseFramer f(16);
  Events got;
  EXPECT_FALSE(f.feed("data: 0123456789abcdef\n\n", [&](std::string_view e) { got.emplace_back(e); }));
  EXPECT_TRUE(got.empty());
}

TEST(SseFramer, DefaultLimitAndOverflowError) {
  EXPECT_EQ(SseFramer().max_event_bytes(), 4u << 20);
  const Error e = SseFramer(16).overflow_error("up");
  EXPECT_EQ(e.code, errc::upstream_protocol);
  EXPECT_EQ(e.message, "provider 'up': upstream sent an SSE event larger than 16 bytes");
}

TEST(SseData, StripsOneLeadingSpaceOnly) {
  EXPECT_EQ(sse_data("data: x\n\n"), "x");
  EXPECT_EQ(sse_data("data:x\n\n"), "x");
  EXPECT_EQ(sse_data("data:  x\n\n"), " x");
  EXPECT_EQ(sse_data("data: x \n\n"), "x ");
}

TEST(SseData, JoinsDataLinesWithNewline) {
  EXPECT_EQ(sse_data("data: a\ndata: b\ndata: c\n\n"), "a\nb\nc");
  EXPECT_EQ(sse_data("data: a\r\ndata: b\r\n\r\n"), "a\nb");
  EXPECT_EQ(sse_data("data: a\rdata: b\r\r"), "a\nb");
  EXPECT_EQ(sse_data("data: a\ndata:\ndata: c\n\n"), "a\n\nc");
}

TEST(SseData, IgnoresOtherFieldsAndComments) {
  EXPECT_EQ(sse_data("event: delta\nid: 1\ndata: x\nretry: 5\n: note\n\n"), "x");
  EXPECT_EQ(sse_data(": data: not data\n\n"), "");
  EXPECT_EQ(sse_data("datax: y\ndata: z\n\n"), "z");
  EXPECT_EQ(sse_data("event: only\n\n"), "");
  EXPECT_EQ(sse_data(""), "");
}

TEST(SseData, FieldNameWithoutColonIsAnEmptyDataLine) {
  EXPECT_EQ(sse_data("data\n\n"), "");
  EXPECT_EQ(sse_data("data: a\ndata\n\n"), "a\n");
}

TEST(SseData, WorksWithoutTheTrailingBlankLine) { EXPECT_EQ(sse_data("data: tail"), "tail"); }

TEST(SseData, KeepsColonsInTheValue) { EXPECT_EQ(sse_data("data: {\"a\":\"b:c\"}\n\n"), "{\"a\":\"b:c\"}"); }

TEST(SseData, OneDataLineIsAViewIntoTheEventSeveralAreJoinedInScratch) {
  std::string scratch = "old";
  const std::string event = "event: x\ndata: {\"a\":1}\n: c\n\n";
  const std::string_view one = sse_data(event, scratch);
  EXPECT_EQ(one, "{\"a\":1}");
  EXPECT_TRUE(one.data() >= event.data() && one.data() + one.size() <= event.data() + event.size());
  EXPECT_EQ(sse_data("data: a\r\ndata: b\rdata:c\n\n", scratch), "a\nb\nc");
  EXPECT_EQ(scratch, "a\nb\nc");
  EXPECT_EQ(sse_data(": ping\n\n", scratch), "");
  EXPECT_EQ(sse_data("data\n\n", scratch), "");
}

TEST(SseData, ManyCrOnlyLinesBeforeAnLfAreSplitInLinearTime) {
  // Each CR-terminated line must not search on to the far LF again: 300,000
  // lines would then scan ~360 GB.
  std::string event;
  for (int i = 0; i < 300000; ++i) event += "data: a\r";
  event += "\n\n";
  const std::string data = sse_data(event);
  EXPECT_EQ(data.size(), 300000u * 2 - 1);
  EXPECT_EQ(data.substr(0, 5), "a\na\na");
}

TEST(IsDoneEvent, RecognisesTheTerminator) {
  EXPECT_TRUE(is_done_event("data: [DONE]\n\n"));
  EXPECT_TRUE(is_done_event("data:[DONE]\n\n"));
  EXPECT_TRUE(is_done_event("data: [DONE]\r\n\r\n"));
  EXPECT_TRUE(is_done_event("data: [DONE]\r\r"));
  EXPECT_FALSE(is_done_event("data: [DONE] \n\n"));
  EXPECT_FALSE(is_done_event("data: [done]\n\n"));
  EXPECT_FALSE(is_done_event("data: {\"content\":\"[DONE]\"}\n\n"));
  EXPECT_FALSE(is_done_event(": [DONE]\n\n"));
  EXPECT_FALSE(is_done_event("data: [DONE]\ndata: more\n\n"));
  EXPECT_FALSE(is_done_event("\n"));
}

TEST(SseEvent, Formats) {
  EXPECT_EQ(sse_event("{}"), "data: {}\n\n");
  EXPECT_EQ(sse_event("[DONE]"), "data: [DONE]\n\n");
  EXPECT_EQ(sse_data(sse_event("{\"x\":1}")), "{\"x\":1}");
  EXPECT_EQ(whole(sse_event("a") + sse_event("b")), (Events{"data: a\n\n", "data: b\n\n"}));
}

}  // namespace
}  // namespace sluice::net
