// log::render: the event line in both formats. JSON lines must stay valid
// JSON whatever a field holds; logfmt values are quoted when they must be.
// log::format_line: the same bytes spdlog's pattern made before. LineWriter:
// batches, whole lines under concurrent writers, nothing lost at flush or exit.
#include "sluice/core/log.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <spdlog/details/log_msg.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/spdlog.h>

#include "support/stdout_capture.hpp"

namespace sluice::log {
namespace {

using json = nlohmann::json;
using test::StdoutTo;
using test::TempFile;

// The production pattern wraps render() output in {"ts":..,"level":..,<here>}.
json as_json_line(const std::string& rendered) {
  return json::parse(R"({"ts":"t","level":"info",)" + rendered + "}");
}

TEST(RenderJson, EventOnly) {
  EXPECT_EQ(render(LogFormat::json, "started", {}), R"("event":"started")");
  const json j = as_json_line(render(LogFormat::json, "started", {}));
  EXPECT_EQ(j["event"], "started");
}

TEST(RenderJson, EveryFieldKindParses) {
  const std::string s = "text";
  const std::string rendered =
      render(LogFormat::json, "request",
             {{"request_id", "abc"}, {"path", s}, {"view", std::string_view("v")}, {"status", 200},
              {"bytes", std::uint64_t{18446744073709551615ull}}, {"delta", std::int64_t{-5}},
              {"ms", 12.3456}, {"stream", true}, {"cached", false}});
  const json j = as_json_line(rendered);
  EXPECT_EQ(j["event"], "request");
  EXPECT_EQ(j["request_id"], "abc");
  EXPECT_EQ(j["path"], "text");
  EXPECT_EQ(j["view"], "v");
  EXPECT_EQ(j["status"], 200);
  EXPECT_EQ(j["bytes"].get<std::uint64_t>(), 18446744073709551615ull);
  EXPECT_EQ(j["delta"], -5);
  EXPECT_DOUBLE_EQ(j["ms"].get<double>(), 12.346);  // three decimals
  EXPECT_EQ(j["stream"], true);
  EXPECT_EQ(j["cached"], false);
  EXPECT_NE(rendered.find(R"("ms":12.346)"), std::string::npos) << rendered;
}

TEST(RenderJson, IntegerExtremes) {
  const json j = as_json_line(render(LogFormat::json, "e",
                                     {{"min", std::numeric_limits<std::int64_t>::min()},
                                      {"max", std::numeric_limits<std::int64_t>::max()},
                                      {"small", short{-3}},
                                      {"unsigned", 7u}}));
  EXPECT_EQ(j["min"].get<std::int64_t>(), std::numeric_limits<std::int64_t>::min());
  EXPECT_EQ(j["max"].get<std::int64_t>(), std::numeric_limits<std::int64_t>::max());
  EXPECT_EQ(j["small"], -3);
  EXPECT_EQ(j["unsigned"], 7);
}

TEST(RenderJson, EscapesQuotesNewlinesAndControlCharacters) {
  const std::string nasty = "say \"hi\"\nsecond line\r\tand \\ and " + std::string(1, '\0') + "\x01\x1b[31m";
  const std::string rendered = render(LogFormat::json, "weird", {{"what", nasty}});
  EXPECT_EQ(rendered.find('\n'), std::string::npos) << "a field value must not split the log line";
  EXPECT_EQ(rendered.find('\r'), std::string::npos);
  for (char c : rendered) EXPECT_GE(static_cast<unsigned char>(c), 0x20u);
  const json j = as_json_line(rendered);
  EXPECT_EQ(j["what"], nasty);
}

TEST(RenderJson, KeysAndEventAreEscapedToo) {
  const json j = as_json_line(render(LogFormat::json, "ev\"ent", {{"k\"ey", "v"}}));
  EXPECT_EQ(j["event"], "ev\"ent");
  EXPECT_EQ(j["k\"ey"], "v");
}

TEST(RenderJson, EmptyText) {
  const json j = as_json_line(render(LogFormat::json, "e", {{"empty", ""}}));
  EXPECT_EQ(j["empty"], "");
}

TEST(RenderText, PlainValuesAreBare) {
  EXPECT_EQ(render(LogFormat::text, "request",
                   {{"request_id", "abc-123"}, {"status", 200}, {"ok", true}, {"ms", 1.5}, {"path", "/v1/x"}}),
            "request request_id=abc-123 status=200 ok=true ms=1.500 path=/v1/x");
}

TEST(RenderText, EventOnly) { EXPECT_EQ(render(LogFormat::text, "stopped", {}), "stopped"); }

TEST(RenderText, QuotesValuesThatNeedIt) {
  EXPECT_EQ(render(LogFormat::text, "e", {{"k", "two words"}}), R"(e k="two words")");
  EXPECT_EQ(render(LogFormat::text, "e", {{"k", "a=b"}}), R"(e k="a=b")");
  EXPECT_EQ(render(LogFormat::text, "e", {{"k", "say \"x\""}}), R"(e k="say \"x\"")");
  EXPECT_EQ(render(LogFormat::text, "e", {{"k", ""}}), R"(e k="")");
}

TEST(RenderText, ControlCharactersAreQuotedAndEscaped) {
  const std::string rendered = render(LogFormat::text, "e", {{"k", "line1\nline2\r\t\x01"}});
  EXPECT_EQ(rendered, R"(e k="line1\nline2\r\t\u0001")");
  EXPECT_EQ(rendered.find('\n'), std::string::npos);
}

TEST(RenderText, BackslashAloneStaysBare) {
  EXPECT_EQ(render(LogFormat::text, "e", {{"k", "a\\b"}}), "e k=a\\b");
}

// --- format_line: byte-identical to the spdlog patterns it replaced ---------

using std::chrono::microseconds;
using std::chrono::system_clock;

// The patterns log::init() gave spdlog before lines were formatted by hand.
constexpr const char* kJsonPattern = R"({"ts":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l",%v})";
constexpr const char* kTextPattern = "%Y-%m-%dT%H:%M:%S.%fZ %l %v";

std::string spdlog_line(const char* pattern, spdlog::level::level_enum level, system_clock::time_point t,
                        const std::string& rendered) {
  spdlog::pattern_formatter formatter(pattern, spdlog::pattern_time_type::utc);
  spdlog::details::log_msg msg(t, spdlog::source_loc{}, "sluice", level, rendered);
  spdlog::memory_buf_t out;
  formatter.format(msg, out);
  return {out.data(), out.size()};
}

std::string our_line(LogFormat format, spdlog::level::level_enum level, system_clock::time_point t,
                     std::initializer_list<Field> fields) {
  std::string out;
  format_line(out, format, level, t, "request", fields);
  return out;
}

TEST(FormatLine, SameBytesAsTheSpdlogPattern) {
  const system_clock::time_point base{microseconds{1'795'000'000'000'000}};  // 2026-11-18T11:06:40Z
  const std::vector<system_clock::time_point> times = {
      base,                                         // .000000
      base + microseconds{999'999},                 // last microsecond of a second
      base + microseconds{1'000'000},               // the next second: cache refreshed
      base + microseconds{1'000'001},
      base + std::chrono::nanoseconds{86'400'000'000'999},  // next day, sub-microsecond dropped
      base - microseconds{3'600'000'000},           // back in time: cache refreshed again
      system_clock::now(),
      system_clock::time_point{microseconds{951'782'400'123'456}},  // 2000-02-29
  };
  const std::string s = "a \"quoted\"\nvalue";
  for (auto level : {spdlog::level::debug, spdlog::level::info, spdlog::level::warn, spdlog::level::err}) {
    for (const auto t : times) {
      EXPECT_EQ(our_line(LogFormat::json, level, t, {{"request_id", "abc"}, {"status", 200}, {"ms", 1.25}, {"s", s}}),
                spdlog_line(kJsonPattern, level, t,
                            render(LogFormat::json, "request",
                                   {{"request_id", "abc"}, {"status", 200}, {"ms", 1.25}, {"s", s}})));
      EXPECT_EQ(our_line(LogFormat::text, level, t, {{"request_id", "abc"}, {"ok", true}, {"s", s}}),
                spdlog_line(kTextPattern, level, t,
                            render(LogFormat::text, "request", {{"request_id", "abc"}, {"ok", true}, {"s", s}})));
    }
  }
}

TEST(FormatLine, AppendsOneWholeLine) {
  std::string out = "kept|";
  const system_clock::time_point t{microseconds{1'795'000'000'123'456}};
  format_line(out, LogFormat::json, spdlog::level::info, t, "started", {{"port", 8080}});
  EXPECT_EQ(out, "kept|" R"({"ts":"2026-11-18T11:06:40.123456Z","level":"info","event":"started","port":8080})"
                 "\n");
}

TEST(FormatLine, LongAndEscapedValuesFitTheReservedRoom) {
  const std::string worst(5000, '\x01');  // every byte becomes \u0001
  std::string out;
  format_line(out, LogFormat::json, spdlog::level::info, system_clock::now(), "e",
              {{"w", worst},
               {"big", std::numeric_limits<double>::max()},
               {"min", std::numeric_limits<std::int64_t>::min()}});
  ASSERT_EQ(out.back(), '\n');
  const json j = json::parse(out);
  EXPECT_EQ(j["w"], worst);
  EXPECT_EQ(j["min"].get<std::int64_t>(), std::numeric_limits<std::int64_t>::min());
}

TEST(RenderJson, PlainAndEscapedStringsAtEveryLength) {
  // The plain-string check reads 8 bytes at a time: a special byte must be
  // found at any position, including the tail.
  for (std::size_t n = 1; n <= 24; ++n) {
    for (std::size_t at = 0; at < n; ++at) {
      for (char special : {'"', '\\', '\n', '\x1f'}) {
        std::string v(n, 'x');
        v[at] = special;
        const json j = as_json_line(render(LogFormat::json, "e", {{"v", v}}));
        EXPECT_EQ(j["v"].get<std::string>(), v) << "length " << n << " at " << at;
      }
    }
    const std::string plain(n, '~');  // 0x7e, and bytes >= 0x80 are copied as they are
    EXPECT_EQ(render(LogFormat::json, "e", {{"v", plain}}), R"("event":"e","v":")" + plain + "\"");
    const std::string utf8 = std::string(n, '\xc3');
    EXPECT_EQ(render(LogFormat::json, "e", {{"v", utf8}}), R"("event":"e","v":")" + utf8 + "\"");
  }
}

// --- LineWriter ------------------------------------------------------------------

TEST(LineWriter, HoldsLinesUntilFullOrFlushed) {
  TempFile file;
  LineWriter writer(file.fd(), 16);
  writer.append("aaaaa\n");
  writer.append("bbbbb\n");
  EXPECT_EQ(file.contents(), "");  // 12 of 16 bytes: still buffered
  writer.append("ccccc\n");        // would not fit: the first two leave in one write
  EXPECT_EQ(file.contents(), "aaaaa\nbbbbb\n");
  writer.flush();
  EXPECT_EQ(file.contents(), "aaaaa\nbbbbb\nccccc\n");
  writer.flush();  // nothing pending: nothing written
  EXPECT_EQ(file.contents(), "aaaaa\nbbbbb\nccccc\n");
}

TEST(LineWriter, FlushNowWritesAtOnce) {
  TempFile file;
  LineWriter writer(file.fd());
  writer.append("info\n");
  writer.append("warn\n", true);
  EXPECT_EQ(file.contents(), "info\nwarn\n");
}

TEST(LineWriter, LineLongerThanTheBufferIsWrittenWhole) {
  TempFile file;
  LineWriter writer(file.fd(), 8);
  writer.append("ab\n");
  const std::string long_line = std::string(100, 'x') + "\n";
  writer.append(long_line);
  EXPECT_EQ(file.contents(), "ab\n" + long_line);
}

TEST(LineWriter, DestructorWritesWhatIsLeft) {
  TempFile file;
  {
    LineWriter writer(file.fd());
    writer.append("last\n");
  }
  EXPECT_EQ(file.contents(), "last\n");
}

// Two threads log while a third flushes as spdlog's flusher does; every line
// must arrive whole, once, and in each thread's order. Into a pipe whose
// reader takes small bites: batches are larger than PIPE_BUF, so two writes
// that overlapped would interleave there.
TEST(LineWriter, ConcurrentWritersNeverTearOrLoseLines) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  std::string received;
  std::thread reader([&] {
    char buf[1024];
    for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) != 0;)
      if (n > 0) received.append(buf, static_cast<std::size_t>(n));
  });
  constexpr int kLines = 20'000;
  auto pad_of = [](int i) { return (i % 97 == 0) ? std::size_t{5000} : static_cast<std::size_t>(i % 61); };
  {
    LineWriter writer(fds[1], 8192);  // small: many batches, many hand-overs
    std::atomic<bool> done{false};
    std::thread flusher([&] {
      while (!done.load()) writer.flush();
    });
    auto produce = [&](char tag) {
      for (int i = 0; i < kLines; ++i)
        writer.append(std::string(1, tag) + " " + std::to_string(i) + " " + std::string(pad_of(i), tag) + "\n",
                      i % 500 == 0);
    };
    std::thread a(produce, 'a'), b(produce, 'b');
    a.join();
    b.join();
    done = true;
    flusher.join();
  }  // the destructor flushes
  ::close(fds[1]);
  reader.join();
  ::close(fds[0]);

  std::istringstream in(received);
  int next[2] = {0, 0};
  for (std::string line; std::getline(in, line);) {
    ASSERT_GE(line.size(), 3u);
    const char tag = line[0];
    ASSERT_TRUE(tag == 'a' || tag == 'b') << line.substr(0, 40);
    const std::size_t sp = line.find(' ', 2);
    ASSERT_NE(sp, std::string::npos) << line.substr(0, 40);
    const int i = std::stoi(line.substr(2, sp - 2));
    ASSERT_EQ(line.substr(sp + 1), std::string(pad_of(i), tag)) << "line " << i << " of " << tag << " is torn";
    ASSERT_EQ(i, next[tag - 'a']++) << "out of order";
  }
  EXPECT_EQ(next[0], kLines);
  EXPECT_EQ(next[1], kLines);
}

// --- the process-wide logger on stdout ----------------------------------------------

LoggingConfig logging(const char* level, LogFormat format = LogFormat::json) {
  LoggingConfig c;
  c.level = level;
  c.format = format;
  return c;
}

TEST(Logger, BuffersInfoWritesWarnAtOnceAndFlushWritesAll) {
  TempFile file;
  {
    StdoutTo redirect(file.fd());
    flush();  // whatever earlier tests left
    init(logging("info"));
    debug("not_shown", {});
    info("request", {{"request_id", "r1"}, {"status", 200}});
    EXPECT_EQ(file.contents(), "");  // buffered
    warn("degraded", {{"request_id", "r2"}});
    const std::string after_warn = file.contents();  // the warning took the info line with it
    info("request", {{"request_id", "r3"}});
    flush();
    init(logging("off"));
    EXPECT_EQ(std::count(after_warn.begin(), after_warn.end(), '\n'), 2) << after_warn;
  }
  std::istringstream in(file.contents());
  std::vector<json> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(json::parse(line));
  ASSERT_EQ(lines.size(), 3u) << file.contents();
  EXPECT_EQ(lines[0]["level"], "info");
  EXPECT_EQ(lines[0]["request_id"], "r1");
  EXPECT_EQ(lines[1]["level"], "warning");
  EXPECT_EQ(lines[1]["event"], "degraded");
  EXPECT_EQ(lines[2]["request_id"], "r3");
}

TEST(Logger, LinesThroughSpdlogItselfShareTheBuffer) {
  TempFile file;
  {
    StdoutTo redirect(file.fd());
    flush();
    init(logging("info", LogFormat::text));
    info("first", {});
    spdlog::info("via spdlog");
    info("third", {});
    flush();
    init(logging("off"));
  }
  const std::string out = file.contents();
  const auto first = out.find(" info first\n"), second = out.find(" info via spdlog\n"),
             third = out.find(" info third\n");
  ASSERT_NE(first, std::string::npos) << out;
  ASSERT_NE(second, std::string::npos) << out;
  ASSERT_NE(third, std::string::npos) << out;
  EXPECT_LT(first, second);
  EXPECT_LT(second, third);
}

// exit() without a flush, as any return from main would: the atexit flush
// writes every buffered line. Run in a fresh process (threadsafe style
// re-executes the test binary), whose stdout goes to a file the parent names
// through the environment.
TEST(LoggerDeathTest, ExitWritesEveryBufferedLine) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  constexpr int kLines = 1000;
  const char* inherited = std::getenv("SLUICE_LOG_EXIT_TEST_FILE");
  const std::string path =
      inherited ? inherited : ::testing::TempDir() + "sluice_log_exit." + std::to_string(::getpid());
  ::setenv("SLUICE_LOG_EXIT_TEST_FILE", path.c_str(), 1);
  EXPECT_EXIT(
      {
        const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        std::fflush(stdout);  // gtest's own output stays out of the file
        ::dup2(fd, STDOUT_FILENO);
        init(logging("info"));
        for (int i = 0; i < kLines; ++i) info("request", {{"n", i}});
        std::exit(0);
      },
      ::testing::ExitedWithCode(0), "");
  ::unsetenv("SLUICE_LOG_EXIT_TEST_FILE");
  std::ifstream in(path);
  int n = 0;
  for (std::string line; std::getline(in, line); ++n) EXPECT_EQ(json::parse(line)["n"], n);
  EXPECT_EQ(n, kLines);
  ::unlink(path.c_str());
}

}  // namespace
}  // namespace sluice::log
