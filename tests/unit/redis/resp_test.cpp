// RESP2: commands encoded byte for byte; replies parsed whole, byte by byte,
// and across feeds; malformed and oversized replies are errors, never a crash.
#include "resp.hpp"

#include <gtest/gtest.h>

#include "print_reply.hpp"

#include <stdexcept>
#include <string>
#include <vector>

namespace sluice::redis {

namespace {

TEST(AppendCommand, EncodesAnArrayOfBulkStrings) {
  std::string out;
  append_command(out, {"SET", "k", std::string_view("a\0\r\nb", 5)});
  EXPECT_EQ(out, std::string("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\na\0\r\nb\r\n", 31));
  const std::vector<std::string> args = {"GET", ""};
  append_command(out, args);
  EXPECT_EQ(out.substr(31), "*2\r\n$3\r\nGET\r\n$0\r\n\r\n");
}

TEST(AppendCommand, AnEmptyCommandIsABug) {
  // Redis answers nothing to "*0\r\n": the replies would be out of step.
  std::string out;
  EXPECT_THROW(append_command(out, std::initializer_list<std::string_view>{}), std::invalid_argument);
  EXPECT_THROW(append_command(out, std::vector<std::string>{}), std::invalid_argument);
  EXPECT_EQ(out, "");
}

// Every type, nested, as Redis writes them.
const std::string kWire =
    "+OK\r\n"
    "-ERR wrong\r\n"
    ":-12\r\n"
    "$5\r\nhe\r\no\r\n"
    "$-1\r\n"
    "*-1\r\n"
    "*0\r\n"
    "*3\r\n:1\r\n*2\r\n$1\r\nx\r\n$-1\r\n+QUEUED\r\n";

const std::vector<Reply> kReplies = {
    Reply::status("OK"),
    Reply::error("ERR wrong"),
    Reply::integer(-12),
    Reply::string("he\r\no"),
    Reply(),
    Reply(),
    Reply::array({}),
    Reply::array({Reply::integer(1), Reply::array({Reply::string("x"), Reply()}), Reply::status("QUEUED")}),
};

std::vector<Reply> drain(ReplyReader& reader) {
  std::vector<Reply> out;
  for (;;) {
    auto next = reader.next();
    if (!next) {
      ADD_FAILURE() << next.error().detail;
      return out;
    }
    if (!*next) return out;
    out.push_back(std::move(**next));
  }
}

TEST(ReplyReader, ParsesEveryTypeFedAtOnce) {
  ReplyReader reader(1 << 20);
  reader.feed(kWire.data(), kWire.size());
  EXPECT_EQ(drain(reader), kReplies);
  EXPECT_EQ(reader.held_bytes(), 0u);
}

TEST(ReplyReader, ParsesTheSameFedByteByByte) {
  ReplyReader reader(1 << 20);
  std::vector<Reply> got;
  for (char c : kWire) {
    reader.feed(&c, 1);
    for (auto& r : drain(reader)) got.push_back(std::move(r));
  }
  EXPECT_EQ(got, kReplies);
}

TEST(ReplyReader, AnIncompleteReplyWaitsForItsBytes) {
  ReplyReader reader(1 << 20);
  reader.feed("*2\r\n:1\r\n$3\r\nab", 14);
  auto next = reader.next();
  ASSERT_TRUE(next);
  EXPECT_FALSE(*next);
  reader.feed("c\r\n", 3);
  next = reader.next();
  ASSERT_TRUE(next && *next);
  EXPECT_EQ(**next, Reply::array({Reply::integer(1), Reply::string("abc")}));
}

TEST(ReplyReader, GarbageIsAnErrorAndTheReaderStaysSpent) {
  ReplyReader reader(1 << 20);
  reader.feed("+OK\r\n?what\r\n", 12);
  auto first = reader.next();
  ASSERT_TRUE(first && *first);
  EXPECT_EQ(**first, Reply::status("OK"));
  auto second = reader.next();
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, errc::redis_unavailable);
  EXPECT_EQ(second.error().message, "Redis sent an invalid reply");
  EXPECT_NE(second.error().detail.find("malformed reply: Protocol error"), std::string::npos) << second.error().detail;
  reader.feed("+OK\r\n", 5);
  EXPECT_FALSE(reader.next());
}

TEST(ReplyReader, ABadLengthIsAnError) {
  for (const std::string wire : {"$abc\r\n", ":12x\r\n", "*x\r\n"}) {
    ReplyReader reader(1 << 20);
    reader.feed(wire.data(), wire.size());
    EXPECT_FALSE(reader.next()) << wire;
  }
}

TEST(ReplyReader, AHugeBulkIsRefusedBeforeItIsAllThere) {
  ReplyReader reader(4096);
  const std::string head = "$1000000\r\n";
  reader.feed(head.data(), head.size());
  const std::string chunk(1024, 'x');
  int fed = 0;
  Result<std::optional<Reply>> next = std::optional<Reply>();
  while (next && fed < 1000) {
    reader.feed(chunk.data(), chunk.size());
    ++fed;
    next = reader.next();
  }
  ASSERT_FALSE(next);
  EXPECT_LE(fed, 5) << "refused once the buffered bytes pass the limit";
  EXPECT_EQ(next.error().detail, "a reply larger than 4096 bytes (redis.max_reply_bytes)");
}

TEST(ReplyReader, AReplyOfManySmallElementsCountsTheirMemory) {
  // An array announced as huge costs nothing until its elements come; each
  // element then counts, so a flood of small ones is bounded too.
  ReplyReader reader(64 * 1024);
  const std::string head = "*100000000\r\n";
  reader.feed(head.data(), head.size());
  std::string ints;
  for (int i = 0; i < 100; ++i) ints += ":1\r\n";
  Result<std::optional<Reply>> next = std::optional<Reply>();
  for (int i = 0; i < 10000 && next; ++i) {
    reader.feed(ints.data(), ints.size());
    next = reader.next();
  }
  ASSERT_FALSE(next);
  EXPECT_EQ(next.error().detail, "a reply larger than 65536 bytes (redis.max_reply_bytes)");
}

TEST(ReplyReader, AReplyThatArrivesWholeIsCheckedToo) {
  ReplyReader reader(1024);
  const std::string wire = "$2000\r\n" + std::string(2000, 'x') + "\r\n";
  reader.feed(wire.data(), wire.size());
  EXPECT_FALSE(reader.next());
}

TEST(ReplyReader, TheLimitIsPerReply) {
  ReplyReader reader(1024);
  std::string wire;
  for (int i = 0; i < 100; ++i) wire += "$500\r\n" + std::string(500, 'y') + "\r\n";
  reader.feed(wire.data(), wire.size());
  EXPECT_EQ(drain(reader).size(), 100u);
}

}  // namespace
}  // namespace sluice::redis
