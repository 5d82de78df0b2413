// The mock provider: deterministic words and embeddings derived from the
// prompt, and the OpenAI-shaped answers, streams and usage built from them.
#include "../../../src/providers/mock.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "support/run_coro.hpp"
#include "sluice/core/base64.hpp"
#include "sluice/net/sse.hpp"

namespace sluice::providers {
namespace {

namespace asio = boost::asio;
using json = nlohmann::json;
using test::run_coro;
using namespace std::chrono_literals;

const std::set<std::string> kVocabulary = {
    "the", "gateway", "answers", "every", "request", "with", "care", "and", "a", "steady", "flow",
    "of", "tokens", "from", "many", "providers", "while", "limits", "hold", "cache", "keeps", "what",
    "was", "asked", "before", "so", "bursts", "wait", "instead", "failing", "models", "route",
};

std::string join(const std::vector<std::string>& words) {
  std::string s;
  for (const auto& w : words) s += (s.empty() ? "" : " ") + w;
  return s;
}

// --- mock_words -----------------------------------------------------------

TEST(MockWords, DeterministicForAPrompt) {
  EXPECT_EQ(mock_words("hello there", 20), mock_words("hello there", 20));
  EXPECT_EQ(mock_words("", 5), mock_words("", 5));
}

TEST(MockWords, DependOnThePrompt) {
  EXPECT_NE(mock_words("hello there", 20), mock_words("hello there!", 20));
  EXPECT_NE(mock_words("a", 20), mock_words("b", 20));
  EXPECT_NE(mock_words("", 20), mock_words(" ", 20));
}

TEST(MockWords, CountAndVocabulary) {
  for (int count : {1, 2, 32, 1000}) {
    const auto words = mock_words("prompt", count);
    ASSERT_EQ(words.size(), static_cast<std::size_t>(count));
    for (const auto& w : words) EXPECT_TRUE(kVocabulary.contains(w)) << w;
  }
  // Long answers use more than a handful of words.
  const auto many = mock_words("prompt", 1000);
  EXPECT_GT(std::set<std::string>(many.begin(), many.end()).size(), 20u);
}

TEST(MockWords, ShorterAnswerIsAPrefixOfTheLongerOne) {
  const auto long_answer = mock_words("why", 50);
  const auto short_answer = mock_words("why", 7);
  EXPECT_TRUE(std::equal(short_answer.begin(), short_answer.end(), long_answer.begin()));
}

TEST(MockWords, ZeroOrNegativeCountIsEmpty) {
  EXPECT_TRUE(mock_words("x", 0).empty());
  EXPECT_TRUE(mock_words("x", -3).empty());
}

// --- mock_embedding -------------------------------------------------------

double norm(const std::vector<float>& v) {
  double sum = 0;
  for (float x : v) sum += static_cast<double>(x) * x;
  return std::sqrt(sum);
}

TEST(MockEmbedding, UnitLengthWithTheAskedDimensions) {
  for (int dims : {1, 2, 3, 256, 1536, 65536}) {
    const auto v = mock_embedding("some text", dims);
    ASSERT_EQ(v.size(), static_cast<std::size_t>(dims));
    EXPECT_NEAR(norm(v), 1.0, 1e-5) << dims;
    for (float x : v) {
      EXPECT_TRUE(std::isfinite(x));
      EXPECT_LE(std::fabs(x), 1.0f);
    }
  }
}

TEST(MockEmbedding, DeterministicAndTextDependent) {
  EXPECT_EQ(mock_embedding("abc", 64), mock_embedding("abc", 64));
  EXPECT_NE(mock_embedding("abc", 64), mock_embedding("abd", 64));
  EXPECT_NE(mock_embedding("", 64), mock_embedding(" ", 64));
}

TEST(MockEmbedding, NonPositiveDimensionsGiveOneUnitComponent) {
  for (int dims : {0, -5}) {
    const auto v = mock_embedding("x", dims);
    ASSERT_EQ(v.size(), 1u);
    EXPECT_NEAR(std::fabs(v[0]), 1.0f, 1e-6);
  }
}

// --- MockProvider ---------------------------------------------------------

class MockProviderTest : public ::testing::Test {
 protected:
  MockProviderTest() {
    config_.name = "mock";
    config_.type = ProviderType::mock;
    config_.mock.completion_tokens = 12;
    config_.mock.stream_chunks = 4;
    config_.mock.embedding_dims = 8;
  }

  static LlmRequest chat(std::vector<Message> messages) {
    LlmRequest r;
    r.endpoint = Endpoint::chat_completions;
    r.model = "alias";
    r.messages = std::move(messages);
    return r;
  }

  Result<ProviderResponse> complete(const LlmRequest& req) {
    MockProvider p(config_, io_.get_executor());
    return run_coro(io_, p.complete(req, "mock-model", ctx_));
  }

  // Every event of a stream, in order, and whether it ended cleanly.
  std::vector<std::string> stream_events(const LlmRequest& req, Usage* usage = nullptr) {
    MockProvider p(config_, io_.get_executor());
    auto started = run_coro(io_, p.stream(req, "mock-model", ctx_));
    EXPECT_TRUE(started.ok());
    if (!started.ok()) return {};
    std::string all;
    for (int guard = 0; guard < 100000; ++guard) {
      auto piece = run_coro(io_, started->stream->next(), 2s);
      EXPECT_TRUE(piece.ok()) << piece.error().message;
      if (!piece.ok() || piece->empty()) break;
      all += *piece;
    }
    if (usage) *usage = started->stream->usage();
    std::vector<std::string> events;
    net::SseFramer framer;
    EXPECT_TRUE(framer.feed(all, [&](std::string_view e) { events.emplace_back(e); }));
    EXPECT_EQ(framer.pending(), 0u);
    return events;
  }

  ProviderConfig config_;
  RequestContext ctx_;
  // Last: destroyed first, so a coroutine left suspended by a failed test
  // dies while the context it registered with still exists.
  asio::io_context io_;
};

TEST_F(MockProviderTest, ChatAnswerIsOpenAiShaped) {
  const LlmRequest req = chat({{"system", "be nice"}, {"user", "what is sluice?"}, {"assistant", "a gate"}});
  auto res = complete(req);
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->status, 200);
  const json j = json::parse(res->body);
  EXPECT_TRUE(j["id"].get<std::string>().starts_with("chatcmpl-mock-"));
  EXPECT_EQ(j["object"], "chat.completion");
  EXPECT_EQ(j["model"], "mock-model");
  EXPECT_TRUE(j["created"].is_number_integer());
  const json& choice = j["choices"][0];
  EXPECT_EQ(choice["message"]["role"], "assistant");
  // Derived from the last *user* message.
  EXPECT_EQ(choice["message"]["content"], join(mock_words("what is sluice?", 12)));
  EXPECT_EQ(choice["finish_reason"], "stop");
  const int prompt = static_cast<int>(estimate_tokens(req.prompt_chars())) + 3 * 3;
  EXPECT_EQ(j["usage"]["prompt_tokens"], prompt);
  EXPECT_EQ(j["usage"]["completion_tokens"], 12);
  EXPECT_EQ(j["usage"]["total_tokens"], prompt + 12);
  EXPECT_TRUE(res->usage.known);
  EXPECT_EQ(res->usage.prompt_tokens, prompt);
  EXPECT_EQ(res->usage.completion_tokens, 12);
}

TEST_F(MockProviderTest, SamePromptSameAnswer) {
  auto a = complete(chat({{"user", "q"}}));
  auto b = complete(chat({{"user", "q"}}));
  auto c = complete(chat({{"user", "other q"}}));
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  const auto content = [](const std::string& body) { return json::parse(body)["choices"][0]["message"]["content"]; };
  EXPECT_EQ(content(a->body), content(b->body));
  EXPECT_NE(content(a->body), content(c->body));
}

TEST_F(MockProviderTest, MaxTokensCapsTheAnswer) {
  LlmRequest req = chat({{"user", "q"}});
  req.max_tokens = 3;
  auto res = complete(req);
  ASSERT_TRUE(res.ok());
  const json j = json::parse(res->body);
  EXPECT_EQ(j["choices"][0]["message"]["content"], join(mock_words("q", 3)));
  EXPECT_EQ(j["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(j["usage"]["completion_tokens"], 3);
}

TEST_F(MockProviderTest, TextCompletion) {
  LlmRequest req;
  req.endpoint = Endpoint::completions;
  req.inputs = {"once upon a time"};
  auto res = complete(req);
  ASSERT_TRUE(res.ok());
  const json j = json::parse(res->body);
  EXPECT_EQ(j["object"], "text_completion");
  EXPECT_TRUE(j["id"].get<std::string>().starts_with("cmpl-mock-"));
  EXPECT_EQ(j["choices"][0]["text"], join(mock_words("once upon a time", 12)));
}

TEST_F(MockProviderTest, EmbeddingsAsFloatsAndBase64) {
  LlmRequest req;
  req.endpoint = Endpoint::embeddings;
  req.inputs = {"first", "second"};
  auto floats = complete(req);
  ASSERT_TRUE(floats.ok());
  json j = json::parse(floats->body);
  EXPECT_EQ(j["object"], "list");
  EXPECT_EQ(j["model"], "mock-model");
  ASSERT_EQ(j["data"].size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(j["data"][i]["index"], i);
    const auto v = j["data"][i]["embedding"].get<std::vector<float>>();
    EXPECT_EQ(v, mock_embedding(req.inputs[i], 8));  // to_chars round-trips floats exactly
  }
  EXPECT_EQ(j["usage"]["prompt_tokens"], estimate_tokens(11));
  EXPECT_TRUE(floats->usage.known);

  req.encoding_format = EncodingFormat::base64;
  req.dimensions = 3;
  auto b64 = complete(req);
  ASSERT_TRUE(b64.ok());
  j = json::parse(b64->body);
  const auto decoded = base64_to_floats(j["data"][1]["embedding"].get<std::string>());
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(*decoded, mock_embedding("second", 3));
}

TEST_F(MockProviderTest, StreamCarriesTheSameAnswer) {
  LlmRequest req = chat({{"user", "stream me"}});
  req.stream = true;
  req.include_usage = true;
  Usage usage;
  const auto events = stream_events(req, &usage);
  // role, 4 content chunks, finish, usage, [DONE]
  ASSERT_EQ(events.size(), 8u);
  EXPECT_TRUE(net::is_done_event(events.back()));
  std::string content;
  for (std::size_t i = 0; i + 1 < events.size(); ++i) {
    ASSERT_TRUE(events[i].starts_with("data: ") && events[i].ends_with("\n\n")) << events[i];
    const json chunk = json::parse(net::sse_data(events[i]));
    EXPECT_EQ(chunk["object"], "chat.completion.chunk");
    EXPECT_EQ(chunk["model"], "mock-model");
    if (i == 0) {
      EXPECT_EQ(chunk["choices"][0]["delta"]["role"], "assistant");
    } else if (i <= 4) {
      content += chunk["choices"][0]["delta"]["content"].get<std::string>();
    } else if (i == 5) {
      EXPECT_EQ(chunk["choices"][0]["finish_reason"], "stop");
    }
    if (i == 6) {
      EXPECT_TRUE(chunk["choices"].empty());
      EXPECT_EQ(chunk["usage"]["completion_tokens"], 12);
    }
  }
  EXPECT_EQ(content, join(mock_words("stream me", 12)));
  EXPECT_TRUE(usage.known);
  EXPECT_EQ(usage.completion_tokens, 12);
}

TEST_F(MockProviderTest, StreamWithoutUsageHasNoUsageChunk) {
  LlmRequest req = chat({{"user", "x"}});
  req.stream = true;
  const auto events = stream_events(req);
  ASSERT_EQ(events.size(), 7u);
  for (const auto& e : events) EXPECT_EQ(e.find("\"usage\""), std::string::npos) << e;
}

TEST_F(MockProviderTest, PacedStreamWithNoContentDoesNotWait) {
  // max_tokens 0: no content chunks, so nothing is paced (a 10 s interval
  // must not delay the finish chunk or [DONE]).
  config_.mock.chunk_interval = 10s;
  for (Endpoint endpoint : {Endpoint::chat_completions, Endpoint::completions}) {
    LlmRequest req = chat({{"user", "x"}});
    req.endpoint = endpoint;
    if (endpoint == Endpoint::completions) {
      req.messages.clear();
      req.inputs = {"x"};
    }
    req.stream = true;
    req.max_tokens = 0;
    const auto events = stream_events(req);
    ASSERT_FALSE(events.empty()) << to_string(endpoint);
    EXPECT_TRUE(net::is_done_event(events.back())) << to_string(endpoint);
  }
}

TEST_F(MockProviderTest, LatencyIsCutShortByCancellation) {
  config_.mock.latency = 10s;
  MockProvider p(config_, io_.get_executor());
  asio::post(io_, [this] { ctx_.cancellation.cancel(); });
  auto res = run_coro(io_, p.complete(chat({{"user", "x"}}), "m", ctx_), 2s);
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().code, errc::cancelled);
}

}  // namespace
}  // namespace sluice::providers
