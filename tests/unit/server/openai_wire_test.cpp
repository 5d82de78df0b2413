// parse_request: what admission accepts, every rejection with its `param`,
// the exact span of the "model" token; convert_embeddings both ways.
#include "openai_wire.hpp"

#include <gtest/gtest.h>

#include <cstddef>

#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "reply.hpp"
#include "sluice/core/base64.hpp"
#include "sluice/server/job_call.hpp"
#include "support/growth.hpp"

namespace sluice::server {
namespace {

using json = nlohmann::json;

const std::string kChat = R"({"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]})";

LlmRequest parse_ok(Endpoint endpoint, const std::string& body) {
  auto r = parse_request(endpoint, body);
  EXPECT_TRUE(r.ok()) << body << " -> " << (r.ok() ? "" : r.error().message);
  return r.ok() ? std::move(r).value() : LlmRequest{};
}

std::string model_token(const LlmRequest& r) { return r.body.substr(r.model_offset, r.model_length); }

// --- accepted bodies ------------------------------------------------------

TEST(ParseRequest, MinimalChat) {
  const LlmRequest r = parse_ok(Endpoint::chat_completions, kChat);
  EXPECT_EQ(r.endpoint, Endpoint::chat_completions);
  EXPECT_EQ(r.body, kChat);
  EXPECT_EQ(r.model, "gpt-4o");
  EXPECT_EQ(model_token(r), "\"gpt-4o\"");
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(r.messages[0].role, "user");
  EXPECT_EQ(r.messages[0].text, "hi");
  EXPECT_FALSE(r.stream);
  EXPECT_FALSE(r.include_usage);
  EXPECT_FALSE(r.max_tokens.has_value());
  EXPECT_TRUE(r.inputs.empty());
  EXPECT_EQ(r.encoding_format, EncodingFormat::unspecified);
  EXPECT_FALSE(r.dimensions.has_value());
}

TEST(ParseRequest, ChatWithEverything) {
  const std::string body = R"({
    "model": "gpt-4o-mini",
    "messages": [
      {"role": "system", "content": "be brief"},
      {"role": "user", "content": [{"type": "text", "text": "look"},
                                   {"type": "image_url", "image_url": {"url": "data:x"}},
                                   {"type": "text", "text": "here"}]},
      {"role": "assistant", "content": null, "tool_calls": [{"id": "t"}]},
      {"role": "tool", "tool_call_id": "t"}
    ],
    "stream": true,
    "stream_options": {"include_usage": true},
    "max_tokens": 50,
    "temperature": 0.2,
    "unknown_field": {"kept": ["as", "is"]}
  })";
  const LlmRequest r = parse_ok(Endpoint::chat_completions, body);
  EXPECT_EQ(r.body, body);
  EXPECT_EQ(r.model, "gpt-4o-mini");
  ASSERT_EQ(r.messages.size(), 4u);
  EXPECT_EQ(r.messages[0].text, "be brief");
  EXPECT_EQ(r.messages[1].role, "user");
  EXPECT_EQ(r.messages[1].text, "look\nhere");
  EXPECT_EQ(r.messages[2].role, "assistant");
  EXPECT_EQ(r.messages[2].text, "");
  EXPECT_EQ(r.messages[3].text, "");
  EXPECT_TRUE(r.stream);
  EXPECT_TRUE(r.include_usage);
  EXPECT_EQ(r.max_tokens, 50);
  EXPECT_EQ(r.prompt_chars(), 8u + 9u);
}

TEST(ParseRequest, EmptyContentArray) {
  const LlmRequest r =
      parse_ok(Endpoint::chat_completions, R"({"model":"m","messages":[{"role":"user","content":[]}]})");
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(r.messages[0].text, "");
}

TEST(ParseRequest, StreamNullAndFalse) {
  EXPECT_FALSE(parse_ok(Endpoint::chat_completions,
                        R"({"model":"m","messages":[{"role":"user","content":"x"}],"stream":null})")
                   .stream);
  EXPECT_FALSE(parse_ok(Endpoint::chat_completions,
                        R"({"model":"m","messages":[{"role":"user","content":"x"}],"stream":false})")
                   .stream);
}

TEST(ParseRequest, IncludeUsageFalseAndStreamOptionsNull) {
  EXPECT_FALSE(parse_ok(Endpoint::chat_completions,
                        R"({"model":"m","messages":[{"role":"user","content":"x"}],"stream":true,)"
                        R"("stream_options":{"include_usage":false}})")
                   .include_usage);
  EXPECT_FALSE(parse_ok(Endpoint::chat_completions,
                        R"({"model":"m","messages":[{"role":"user","content":"x"}],"stream_options":null})")
                   .include_usage);
}

TEST(ParseRequest, MaxCompletionTokensIsPreferredOverMaxTokens) {
  const std::string msgs = R"("messages":[{"role":"user","content":"x"}])";
  EXPECT_EQ(parse_ok(Endpoint::chat_completions,
                     R"({"model":"m",)" + msgs + R"(,"max_tokens":10,"max_completion_tokens":20})")
                .max_tokens,
            20);
  EXPECT_EQ(parse_ok(Endpoint::chat_completions,
                     R"({"model":"m",)" + msgs + R"(,"max_completion_tokens":20,"max_tokens":10})")
                .max_tokens,
            20);
  EXPECT_EQ(parse_ok(Endpoint::chat_completions,
                     R"({"model":"m",)" + msgs + R"(,"max_completion_tokens":null,"max_tokens":10})")
                .max_tokens,
            10);
  EXPECT_EQ(parse_ok(Endpoint::chat_completions, R"({"model":"m",)" + msgs + R"(,"max_tokens":0})").max_tokens, 0);
  EXPECT_FALSE(
      parse_ok(Endpoint::chat_completions, R"({"model":"m",)" + msgs + R"(,"max_tokens":null})").max_tokens.has_value());
}

TEST(ParseRequest, CompletionsPromptForms) {
  LlmRequest r = parse_ok(Endpoint::completions, R"({"model":"m","prompt":"once upon"})");
  EXPECT_EQ(r.inputs, (std::vector<std::string>{"once upon"}));
  EXPECT_TRUE(r.messages.empty());
  r = parse_ok(Endpoint::completions, R"({"model":"m","prompt":["a","bc"]})");
  EXPECT_EQ(r.inputs, (std::vector<std::string>{"a", "bc"}));
  // Token arrays carry no text.
  r = parse_ok(Endpoint::completions, R"({"model":"m","prompt":[[1,2],[3]]})");
  EXPECT_EQ(r.inputs, (std::vector<std::string>{"", ""}));
}

TEST(ParseRequest, FlatArrayOfTokenIdsIsOneInput) {
  // OpenAI: "array of tokens" is one input; "array of token arrays" is many.
  LlmRequest r = parse_ok(Endpoint::embeddings, R"({"model":"e","input":[1,2,3]})");
  EXPECT_EQ(r.inputs.size(), 1u);
  r = parse_ok(Endpoint::completions, R"({"model":"m","prompt":[10,20]})");
  EXPECT_EQ(r.inputs.size(), 1u);
}

TEST(ParseRequest, EmbeddingsForms) {
  LlmRequest r = parse_ok(Endpoint::embeddings, R"({"model":"e","input":"hello"})");
  EXPECT_EQ(r.endpoint, Endpoint::embeddings);
  EXPECT_EQ(r.inputs, (std::vector<std::string>{"hello"}));
  EXPECT_EQ(r.encoding_format, EncodingFormat::unspecified);
  r = parse_ok(Endpoint::embeddings, R"({"model":"e","input":["a","b"],"encoding_format":"base64","dimensions":64})");
  EXPECT_EQ(r.inputs, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(r.encoding_format, EncodingFormat::base64);
  EXPECT_EQ(r.dimensions, 64);
  r = parse_ok(Endpoint::embeddings, R"({"model":"e","input":"x","encoding_format":"float","dimensions":1})");
  EXPECT_EQ(r.encoding_format, EncodingFormat::float_array);
  EXPECT_EQ(r.dimensions, 1);
  r = parse_ok(Endpoint::embeddings, R"({"model":"e","input":"x","dimensions":65536,"encoding_format":null})");
  EXPECT_EQ(r.dimensions, 65536);
  EXPECT_EQ(r.encoding_format, EncodingFormat::unspecified);
}

TEST(ParseRequest, EmbeddingsIgnoreStream) {
  // "stream" is validated for type but embeddings never stream (the pipeline decides).
  const LlmRequest r = parse_ok(Endpoint::embeddings, R"({"model":"e","input":"x","stream":true})");
  EXPECT_TRUE(r.stream);
}

TEST(ParseRequest, NonEmbeddingEndpointsIgnoreEmbeddingOptions) {
  const LlmRequest r = parse_ok(
      Endpoint::chat_completions,
      R"({"model":"m","messages":[{"role":"user","content":"x"}],"encoding_format":"hex","dimensions":0})");
  EXPECT_EQ(r.encoding_format, EncodingFormat::unspecified);
  EXPECT_FALSE(r.dimensions.has_value());
}

TEST(ParseRequest, Utf8TextIsKept) {
  const std::string body = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"h\xc3\xa9 \xf0\x9f\x98\x80\"}]}";
  const LlmRequest r = parse_ok(Endpoint::chat_completions, body);
  EXPECT_EQ(r.messages.at(0).text, "h\xc3\xa9 \xf0\x9f\x98\x80");
}

TEST(ParseRequest, EscapesInStringsAreDecoded) {
  const LlmRequest r = parse_ok(Endpoint::chat_completions,
                                R"({"model":"a\"b\u00e9","messages":[{"role":"user","content":"line\nnext \u0041"}]})");
  EXPECT_EQ(r.model, "a\"b\xc3\xa9");
  EXPECT_EQ(r.messages.at(0).text, "line\nnext A");
  EXPECT_EQ(model_token(r), R"("a\"b\u00e9")");
}

// --- the model token span -------------------------------------------------

struct Span {
  std::string body;
  std::string token;  // the raw text the span must cover
};

void PrintTo(const Span& s, std::ostream* os) { *os << ::testing::PrintToString(s.body); }

class ModelSpan : public ::testing::TestWithParam<Span> {};

TEST_P(ModelSpan, LocatesTheTopLevelModelValue) {
  const LlmRequest r = parse_ok(Endpoint::chat_completions, GetParam().body);
  EXPECT_EQ(model_token(r), GetParam().token);
  // Replacing it gives valid JSON with only "model" changed.
  const std::string rewritten = r.body_for_model("other");
  json before = json::parse(r.body), after = json::parse(rewritten);
  EXPECT_EQ(after["model"], "other");
  after["model"] = before["model"];
  EXPECT_EQ(after, before);
}

const std::string kMsgs = R"("messages":[{"role":"user","content":"x"}])";

INSTANTIATE_TEST_SUITE_P(
    Bodies, ModelSpan,
    ::testing::Values(
        Span{R"({"model":"real",)" + kMsgs + "}", R"("real")"},
        Span{"{ \"model\" \t:\n  \"real\"  \r\n , " + kMsgs + " }", R"("real")"},
        Span{"{" + kMsgs + R"(,"model":"real"})", R"("real")"},
        Span{"{" + kMsgs + ",\"model\":\"real\"\n\t }", R"("real")"},
        Span{R"({"metadata":{"model":"x"},"model":"real",)" + kMsgs + "}", R"("real")"},
        Span{R"({"tools":[{"model":"x"}],"model_name":"y",)" + kMsgs + R"(,"model":"real"})", R"("real")"},
        Span{"{\"messages\":[{\"role\":\"user\",\"content\":\"\\\"model\\\":\\\"fake\\\"\"}],\"model\":\"real\"}",
             R"("real")"},
        Span{R"({"model":"with \"quotes\" and \\ slash",)" + kMsgs + "}", R"("with \"quotes\" and \\ slash")"},
        // An escaped key is still the key "model".
        Span{R"({"\u006dodel":"real",)" + kMsgs + "}", R"("real")"},
        Span{R"({"metadata":{"model":"x"},"mod\u0065l":"real",)" + kMsgs + "}", R"("real")"}));

// --- rejections -----------------------------------------------------------

struct Rejected {
  Endpoint endpoint;
  std::string body;
  std::string param;
};

void PrintTo(const Rejected& r, std::ostream* os) {
  *os << to_string(r.endpoint) << " " << ::testing::PrintToString(r.body);
}

class ParseRejected : public ::testing::TestWithParam<Rejected> {};

TEST_P(ParseRejected, IsBadRequestNamingTheParam) {
  const Rejected& c = GetParam();
  auto r = parse_request(c.endpoint, c.body);
  ASSERT_FALSE(r.ok()) << c.body;
  EXPECT_EQ(r.error().code, errc::bad_request) << c.body;
  EXPECT_EQ(r.error().param, c.param) << c.body << " -> " << r.error().message;
  EXPECT_FALSE(r.error().message.empty());
  EXPECT_EQ(r.error().status(), 400);
}

constexpr auto kC = Endpoint::chat_completions;
constexpr auto kT = Endpoint::completions;
constexpr auto kE = Endpoint::embeddings;
const std::string kM = R"("model":"m")";

INSTANTIATE_TEST_SUITE_P(
    Body, ParseRejected,
    ::testing::Values(
        // not valid UTF-8 (lone continuation byte; overlong; truncated sequence)
        Rejected{kC, "{\"model\":\"m\xff\",\"messages\":[]}", ""},
        Rejected{kC, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"\xc0\xaf\"}]}", ""},
        Rejected{kC, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"\xe2\x82\"}]}", ""},
        // not JSON
        Rejected{kC, "", ""}, Rejected{kC, "{", ""}, Rejected{kC, "{\"model\":\"m\",}", ""},
        Rejected{kC, "{\"model\":'m'}", ""}, Rejected{kC, R"({"model":"m"} {})", ""},
        Rejected{kC, "nul", ""},
        // not an object
        Rejected{kC, "[]", ""}, Rejected{kC, R"("model")", ""}, Rejected{kC, "null", ""}, Rejected{kC, "42", ""},
        // duplicate top-level keys
        Rejected{kC, R"({"model":"a","messages":[{"role":"user","content":"x"}],"model":"b"})", "model"},
        Rejected{kC, R"({"model":"a","\u006dodel":"b","messages":[{"role":"user","content":"x"}]})", "model"},
        Rejected{kC, R"({"model":"a","stream":false,"messages":[{"role":"user","content":"x"}],"stream":true})",
                 "stream"},
        // model
        Rejected{kC, R"({"messages":[{"role":"user","content":"x"}]})", "model"},
        Rejected{Endpoint::embeddings, R"({"model":"e","input":""})", "input"},
        Rejected{kC, R"({"model":"","messages":[{"role":"user","content":"x"}]})", "model"},
        Rejected{kC, R"({"model":null,"messages":[{"role":"user","content":"x"}]})", "model"},
        Rejected{kC, R"({"model":4,"messages":[{"role":"user","content":"x"}]})", "model"},
        Rejected{kC, R"({"model":["m"],"messages":[{"role":"user","content":"x"}]})", "model"},
        Rejected{kE, R"({"input":"x"})", "model"},
        // messages
        Rejected{kC, "{" + kM + "}", "messages"},
        Rejected{kC, "{" + kM + R"(,"messages":[]})", "messages"},
        Rejected{kC, "{" + kM + R"(,"messages":"hi"})", "messages"},
        Rejected{kC, "{" + kM + R"(,"messages":{"role":"user"}})", "messages"},
        Rejected{kC, "{" + kM + R"(,"messages":null})", "messages"},
        Rejected{kC, "{" + kM + R"(,"messages":["hi"]})", "messages[0]"},
        Rejected{kC, "{" + kM + R"(,"messages":[{"role":"user","content":"x"},null]})", "messages[1]"},
        Rejected{kC, "{" + kM + R"(,"messages":[{"content":"x"}]})", "messages[0].role"},
        Rejected{kC, "{" + kM + R"(,"messages":[{"role":1,"content":"x"}]})", "messages[0].role"},
        Rejected{kC, "{" + kM + R"(,"messages":[{"role":"user","content":"x"},{"role":null}]})", "messages[1].role"},
        Rejected{kC, "{" + kM + R"(,"messages":[{"role":"user","content":5}]})", "messages[0].content"},
        Rejected{kC, "{" + kM + R"(,"messages":[{"role":"user","content":true}]})", "messages[0].content"},
        Rejected{kC, "{" + kM + R"(,"messages":[{"role":"user","content":{"text":"x"}}]})", "messages[0].content"},
        Rejected{kC, "{" + kM + R"(,"messages":[{"role":"user","content":["x"]}]})", "messages[0].content"},
        // options
        Rejected{kC, "{" + kM + "," + kMsgs + R"(,"stream":"yes"})", "stream"},
        Rejected{kC, "{" + kM + "," + kMsgs + R"(,"stream":1})", "stream"},
        Rejected{kC, "{" + kM + "," + kMsgs + R"(,"stream_options":{"include_usage":"true"}})",
                 "stream_options.include_usage"},
        Rejected{kC, "{" + kM + "," + kMsgs + R"(,"max_tokens":-1})", "max_tokens"},
        Rejected{kC, "{" + kM + "," + kMsgs + R"(,"max_tokens":1.5})", "max_tokens"},
        Rejected{kC, "{" + kM + "," + kMsgs + R"(,"max_tokens":"10"})", "max_tokens"},
        Rejected{kC, "{" + kM + "," + kMsgs + R"(,"max_tokens":18446744073709551615})", "max_tokens"},
        Rejected{kC, "{" + kM + "," + kMsgs + R"(,"max_completion_tokens":-5,"max_tokens":5})",
                 "max_completion_tokens"},
        Rejected{kC, "{" + kM + "," + kMsgs + R"(,"max_completion_tokens":5,"max_tokens":-5})", "max_tokens"},
        // prompt / input
        Rejected{kT, "{" + kM + "}", "prompt"},
        Rejected{kT, "{" + kM + R"(,"prompt":5})", "prompt"},
        Rejected{kT, "{" + kM + R"(,"prompt":[{"x":1}]})", "prompt"},
        Rejected{kT, "{" + kM + R"(,"prompt":null})", "prompt"},
        Rejected{kE, "{" + kM + "}", "input"},
        Rejected{kE, "{" + kM + R"(,"input":[]})", "input"},
        Rejected{kE, "{" + kM + R"(,"input":null})", "input"},
        Rejected{kE, "{" + kM + R"(,"input":{"text":"x"}})", "input"},
        Rejected{kE, "{" + kM + R"(,"input":["a",null]})", "input"},
        Rejected{kE, "{" + kM + R"(,"input":[1.5]})", "input"},
        Rejected{kE, "{" + kM + R"(,"input":[1,"a"]})", "input"},
        // embeddings options
        Rejected{kE, "{" + kM + R"(,"input":"x","encoding_format":"hex"})", "encoding_format"},
        Rejected{kE, "{" + kM + R"(,"input":"x","encoding_format":1})", "encoding_format"},
        Rejected{kE, "{" + kM + R"(,"input":"x","encoding_format":"Float"})", "encoding_format"},
        Rejected{kE, "{" + kM + R"(,"input":"x","dimensions":0})", "dimensions"},
        Rejected{kE, "{" + kM + R"(,"input":"x","dimensions":-1})", "dimensions"},
        Rejected{kE, "{" + kM + R"(,"input":"x","dimensions":65537})", "dimensions"},
        Rejected{kE, "{" + kM + R"(,"input":"x","dimensions":1.5})", "dimensions"},
        Rejected{kE, "{" + kM + R"(,"input":"x","dimensions":"3"})", "dimensions"}));

TEST(ParseRequest, FirstProblemWinsInFieldOrder) {
  // model is checked before messages, messages before options.
  auto r = parse_request(kC, R"({"stream":"x","messages":[]})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().param, "model");
  r = parse_request(kC, R"({"model":"m","stream":"x","messages":[]})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().param, "messages");
}

TEST(ParseRequest, DuplicateKeysInsideNestedObjectsAreNotTopLevelDuplicates) {
  const LlmRequest r = parse_ok(
      kC, R"({"model":"m","messages":[{"role":"user","content":"x"},{"role":"user","content":"y"}],)"
          R"("metadata":{"a":1,"b":2}})");
  EXPECT_EQ(r.messages.size(), 2u);
}

// A body is client input: 40,000 top-level keys made the old pairwise
// duplicate check stall the event loop for 3-4 s.
std::string body_with_keys(int n, std::string_view last_key) {
  std::string body = R"({"model":"m","messages":[{"role":"user","content":"x"}])";
  for (int i = 0; i < n; ++i) body += ",\"k" + std::to_string(i) + "\":0";
  body += ",\"" + std::string(last_key) + "\":1}";
  return body;
}

TEST(ParseRequest, DuplicateKeysAreFoundAmongManyKeys) {
  for (int n : {3, 14, 15, 16, 17, 100}) {
    auto r = parse_request(kC, body_with_keys(n, "k1"));
    ASSERT_FALSE(r.ok()) << n;
    EXPECT_EQ(r.error().param, "k1") << n;
    EXPECT_TRUE(parse_request(kC, body_with_keys(n, "other")).ok()) << n;
  }
  auto r = parse_request(kC, body_with_keys(40, "model"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().param, "model");
}

TEST(ParseRequest, ManyKeysCostLinearTimeNotQuadratic) {
  EXPECT_TRUE(parse_request(kC, body_with_keys(40'000, "other")).ok());
  EXPECT_FALSE(parse_request(kC, body_with_keys(40'000, "k39999")).ok());
  // The pairwise duplicate check took seconds at 40,000 keys.
  const double growth = test::growth([](std::size_t n) { return body_with_keys(int(n), "k0"); },
                                     [](const std::string& body) { (void)parse_request(kC, body); },
                                     [](const std::string& body) { return json::parse(body).size(); }, 2'500);
  EXPECT_LT(growth, test::kLinearGrowth);
}

TEST(ParseRequest, NestingIsBoundedBeforeAnythingWalksIt) {
  auto nested = [](std::size_t depth) {
    return R"({"model":"m","messages":[{"role":"user","content":"hi"}],"metadata":)" + std::string(depth, '[') +
           std::string(depth, ']') + "}";
  };
  EXPECT_TRUE(parse_request(kC, nested(200)).ok()) << "a deep schema is fine";
  const auto r = parse_request(kC, nested(100'000));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, errc::bad_request);
  EXPECT_NE(r.error().message.find("nested deeper than 256 levels"), std::string::npos) << r.error().message;
}

// --- convert_embeddings ---------------------------------------------------

const std::string kFloats =
    R"({"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.25,-0.5,1.0]},)"
    R"({"object":"embedding","index":1,"embedding":[0.0]}],"model":"e","usage":{"prompt_tokens":2,"total_tokens":2}})";

TEST(ConvertEmbeddings, FloatsToBase64) {
  const auto out = convert_embeddings(kFloats, EncodingFormat::base64);
  ASSERT_TRUE(out.has_value());
  const json j = json::parse(*out);
  EXPECT_EQ(j["data"][0]["embedding"], floats_to_base64({0.25f, -0.5f, 1.0f}));
  EXPECT_EQ(j["data"][1]["embedding"], floats_to_base64({0.0f}));
  // Everything else is kept.
  EXPECT_EQ(j["model"], "e");
  EXPECT_EQ(j["usage"]["total_tokens"], 2);
  EXPECT_EQ(j["data"][1]["index"], 1);
}

TEST(ConvertEmbeddings, Base64ToFloats) {
  const std::string body = R"({"object":"list","data":[{"object":"embedding","index":0,"embedding":")" +
                           floats_to_base64({0.25f, -0.5f, 1.0f}) + R"("}],"model":"e"})";
  for (EncodingFormat wanted : {EncodingFormat::float_array, EncodingFormat::unspecified}) {
    const auto out = convert_embeddings(body, wanted);
    ASSERT_TRUE(out.has_value());
    const json j = json::parse(*out);
    EXPECT_EQ(j["data"][0]["embedding"], (std::vector<float>{0.25f, -0.5f, 1.0f}));
    EXPECT_EQ(j["model"], "e");
  }
}

TEST(ConvertEmbeddings, RoundTrip) {
  const auto b64 = convert_embeddings(kFloats, EncodingFormat::base64);
  ASSERT_TRUE(b64.has_value());
  const auto back = convert_embeddings(*b64, EncodingFormat::float_array);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(json::parse(*back), json::parse(kFloats));
}

TEST(ConvertEmbeddings, NoOpWhenAlreadyInTheWantedForm) {
  EXPECT_FALSE(convert_embeddings(kFloats, EncodingFormat::float_array).has_value());
  EXPECT_FALSE(convert_embeddings(kFloats, EncodingFormat::unspecified).has_value());
  const std::string b64 = R"({"data":[{"embedding":"AACAPw=="}]})";
  EXPECT_FALSE(convert_embeddings(b64, EncodingFormat::base64).has_value());
}

TEST(ConvertEmbeddings, NoOpOnBodiesItCannotRead) {
  EXPECT_FALSE(convert_embeddings("", EncodingFormat::base64).has_value());
  EXPECT_FALSE(convert_embeddings("not json", EncodingFormat::base64).has_value());
  EXPECT_FALSE(convert_embeddings("[1,2]", EncodingFormat::base64).has_value());
  EXPECT_FALSE(convert_embeddings(R"({"error":{"message":"x"}})", EncodingFormat::base64).has_value());
  EXPECT_FALSE(convert_embeddings(R"({"data":"x"})", EncodingFormat::base64).has_value());
  EXPECT_FALSE(convert_embeddings(R"({"data":[]})", EncodingFormat::base64).has_value());
  EXPECT_FALSE(convert_embeddings(R"({"data":[1,{"object":"embedding"}]})", EncodingFormat::base64).has_value());
  // Invalid base64 (or a byte count that is not whole floats) cannot become floats.
  EXPECT_FALSE(convert_embeddings(R"({"data":[{"embedding":"!!!!"}]})", EncodingFormat::float_array).has_value());
  EXPECT_FALSE(convert_embeddings(R"({"data":[{"embedding":"YWJj"}]})", EncodingFormat::float_array).has_value());
}

}  // namespace
}  // namespace sluice::server

namespace sluice::server {
namespace {

TEST(DecodeJobCall, AKnownEndpointDecodesAsTheFrontDoorParses) {
  auto call = decode_job_call("chat.completions", R"({"model":"m","messages":[{"role":"user","content":"hi"}]})");
  ASSERT_TRUE(call.ok()) << call.error().message;
  EXPECT_EQ(call->request.model, "m");
  EXPECT_EQ(call->request.endpoint, Endpoint::chat_completions);
}

// The endpoint comes from a Redis entry anyone with access may have written:
// it is quoted only when it reads as a name, so the error body stays JSON.
TEST(DecodeJobCall, AnUnknownEndpointIsA400WhoseBodyIsJson) {
  const auto named = decode_job_call("chat", "{}");
  ASSERT_FALSE(named.ok());
  EXPECT_EQ(named.error().code, errc::bad_request);
  EXPECT_NE(named.error().message.find("`chat`"), std::string::npos) << named.error().message;
  for (std::string endpoint : {std::string("chat_completi\0\xff\xfe", 16), std::string("a\nb"), std::string(300, 'x')}) {
    const auto bad = decode_job_call(endpoint, "{}");
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.error().code, errc::bad_request);
    EXPECT_EQ(bad.error().message.find(endpoint), std::string::npos) << bad.error().message;
    EXPECT_TRUE(json::accept(error_reply(bad.error(), Wire::openai).body)) << bad.error().message;
  }
}

}  // namespace
}  // namespace sluice::server
