// Redactor: configured secrets out of plain text and JSON, JSON kept valid,
// escape sequences respected, and linear on hostile input.
#include "sluice/core/redact.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

namespace sluice {
namespace {

using json = nlohmann::json;

const std::string kKey = "sk-live-0123456789abcdef";

std::string text(const Redactor& r, std::string s) {
  r.redact_text(s);
  return s;
}

std::string in_json(const Redactor& r, std::string s) {
  r.redact_json(s);
  return s;
}

TEST(Redactor, TextLosesEveryOccurrence) {
  const Redactor r({kKey, "tenant-token-42"});
  EXPECT_EQ(text(r, "Bearer " + kKey + " and " + kKey + kKey + "; tenant-token-42."),
            "Bearer [redacted] and [redacted][redacted]; [redacted].");
  EXPECT_EQ(text(r, "nothing to see"), "nothing to see");
  EXPECT_EQ(text(r, ""), "");
}

TEST(Redactor, ShortValuesAreNoSecretsAndDuplicatesCountOnce) {
  const Redactor r({"v2", "", "true", "1234567", "12345678", "12345678"});
  EXPECT_FALSE(r.empty());
  EXPECT_EQ(text(r, "v2 true 1234567 12345678"), "v2 true 1234567 [redacted]");
  EXPECT_TRUE(Redactor({"short", ""}).empty());
  EXPECT_TRUE(Redactor().empty());
}

TEST(Redactor, TheLongestSecretGoesFirst) {
  // A header value that contains the key ("Bearer <key>") is replaced whole.
  const Redactor r({kKey, "Bearer " + kKey});
  EXPECT_EQ(text(r, "Authorization: Bearer " + kKey), "Authorization: [redacted]");
}

TEST(Redactor, JsonStaysValidAndLosesTheSecret) {
  const Redactor r({kKey});
  const std::string body = json{{"error", {{"message", "Invalid 'Authorization: Bearer " + kKey + "'"},
                                           {"type", "invalid_request_error"},
                                           {"param", nullptr},
                                           {"code", kKey}}}}
                               .dump();
  const std::string out = in_json(r, body);
  const json j = json::parse(out);
  EXPECT_EQ(j["error"]["message"], "Invalid 'Authorization: Bearer [redacted]'");
  EXPECT_EQ(j["error"]["code"], "[redacted]");
  EXPECT_EQ(j["error"]["type"], "invalid_request_error");
}

TEST(Redactor, SecretsWithCharactersJsonEscapesAreFoundAsJsonWritesThem) {
  const std::string quoted = "ab\"cd\\ef/gh";
  const Redactor r({quoted});
  const std::string body = json{{"m", "key " + quoted + " seen"}}.dump();  // "ab\"cd\\ef/gh"
  EXPECT_EQ(json::parse(in_json(r, body))["m"], "key [redacted] seen");
  // Some encoders write '/' as "\/".
  EXPECT_EQ(json::parse(in_json(r, R"({"m":"key ab\"cd\\ef\/gh"})"))["m"], "key [redacted]");
  EXPECT_EQ(text(r, "raw " + quoted), "raw [redacted]");
}

TEST(Redactor, AnEscapeSequenceNeverStartsAnOccurrence) {
  // "\nabcdefgh" holds a line break, then "abcdefgh": not the secret
  // "nabcdefgh". Replacing from the 'n' would leave "\[redacted]", not JSON.
  const Redactor r({"nabcdefgh", "e9abcdefgh"});
  for (const std::string body : {R"({"m":"x\nabcdefgh"})", R"({"m":"x\u00e9abcdefgh"})"}) {
    const std::string out = in_json(r, body);
    EXPECT_EQ(out, body);
    EXPECT_TRUE(json::accept(out)) << out;
  }
  // After an escaped backslash the next character is plain text again.
  EXPECT_EQ(json::parse(in_json(r, R"({"m":"x\\nabcdefgh"})"))["m"], "x\\[redacted]");
}

TEST(Redactor, ANumberLikeSecretIsReplacedOnlyInsideStrings) {
  const Redactor r({"12345678901"});
  const std::string out = in_json(r, R"({"n":12345678901,"s":"id 12345678901"})");
  const json j = json::parse(out);
  EXPECT_EQ(j["n"], 12345678901) << "a number that happens to match stays a number";
  EXPECT_EQ(j["s"], "id [redacted]");
}

TEST(Redactor, TextOutsideJsonStringsIsRedactedToo) {
  const Redactor r({kKey});
  // An SSE stream: a line that is no JSON at all, a broken line whose quote
  // never closes, then a well-formed event.
  const std::string stream = "data: key=" + kKey + "\n\ndata: {\"a\":\"open\n\ndata: {\"m\":\"" + kKey + "\"}\n\n";
  EXPECT_EQ(in_json(r, stream),
            "data: key=[redacted]\n\ndata: {\"a\":\"open\n\ndata: {\"m\":\"[redacted]\"}\n\n");
}

TEST(Redactor, ErrorsLoseSecretsEverywhereTheyCarryText) {
  const Redactor r({kKey});
  Error e = make_error(errc::upstream_rejected, "bad key " + kKey);
  e.detail = "provider 'p' said " + kKey;
  e.upstream_body = json{{"error", {{"message", kKey}}}}.dump();
  r.redact(e);
  EXPECT_EQ(e.message, "bad key [redacted]");
  EXPECT_EQ(e.detail, "provider 'p' said [redacted]");
  EXPECT_EQ(json::parse(e.upstream_body)["error"]["message"], "[redacted]");
}

TEST(Redactor, LinearOnHostileInput) {
  // Worst cases of a naive search: a long near-match repeated, and (JSON) a
  // candidate at every byte that must be refused.
  using Clock = std::chrono::steady_clock;
  const std::string near(63, 'a');
  const Redactor r({near + "b", std::string(16, '1')});
  std::string plain(8u << 20, 'a');
  std::string digits = "[" + std::string(2u << 20, '1') + "]";
  const auto start = Clock::now();
  r.redact_text(plain);
  r.redact_json(plain);
  r.redact_json(digits);
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(5));
  EXPECT_EQ(plain.size(), 8u << 20);
  EXPECT_EQ(digits.find("redacted"), std::string::npos);
}

}  // namespace
}  // namespace sluice
