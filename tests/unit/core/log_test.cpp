// log::render: the event line in both formats. JSON lines must stay valid
// JSON whatever a field holds; logfmt values are quoted when they must be.
#include "sluice/core/log.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>

namespace sluice::log {
namespace {

using json = nlohmann::json;

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

}  // namespace
}  // namespace sluice::log
