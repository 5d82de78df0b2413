// Embeddings end to end. The OpenAI SDKs ask for base64 by default and misread
// a float array silently, so the client must always get the encoding it asked
// for, whatever the upstream sent.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "gateway_fixture.hpp"
#include "support/fake_upstream.hpp"
#include "support/test_client.hpp"

namespace sluice::test {
namespace {

// What the fake upstream embeds input i as.
std::vector<float> fake_vector(int i) { return {0.25f, -0.5f, 0.125f * static_cast<float>(i), 1.0f}; }

std::vector<float> floats_of(const json& embedding) {
  std::vector<float> out;
  for (const auto& x : embedding) out.push_back(x.get<float>());
  return out;
}

HttpResponse embed(uint16_t port, json body) {
  return http_request(port, "POST", "/v1/embeddings", body.dump());
}

class Embeddings : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(gw.started()); }
  FakeUpstream fake;
  Gateway gw{ConfigBuilder()
                 .openai_provider("up", fake.base_url())
                 .model("text-embedding-3-small", {{"up", "text-embedding-3-small"}})
                 .yaml()};
};

TEST_F(Embeddings, Base64AskedFloatsAnsweredIsConvertedToBase64) {
  HttpResponse res = embed(gw.port(), {{"model", "text-embedding-3-small"},
                                       {"input", {"one", "two"}},
                                       {"encoding_format", "base64"},
                                       {"x_fake", {{"embed_floats_always", true}}}});
  ASSERT_EQ(res.status, 200) << res.body;
  const json j = parse_json(res.body);
  ASSERT_EQ(j["data"].size(), 2u) << res.body;
  for (int i = 0; i < 2; ++i) {
    const json& emb = j["data"][i]["embedding"];
    ASSERT_TRUE(emb.is_string()) << "client asked base64: " << res.body;
    EXPECT_EQ(decode_base64_floats(emb.get<std::string>()), fake_vector(i));
    EXPECT_EQ(j["data"][i]["index"], i);
  }
  EXPECT_EQ(j["object"], "list");
  EXPECT_TRUE(j["usage"].is_object());
  EXPECT_EQ(res.headers["x-sluice-provider"], "up");
  ASSERT_EQ(fake.request_count(), 1u);
  EXPECT_EQ(parse_json(fake.requests()[0].body)["encoding_format"], "base64");
  EXPECT_EQ(fake.requests()[0].target, "/v1/embeddings");
}

TEST_F(Embeddings, FloatAskedBase64AnsweredIsConvertedToFloats) {
  HttpResponse res = embed(gw.port(), {{"model", "text-embedding-3-small"},
                                       {"input", "one"},
                                       {"encoding_format", "float"},
                                       {"x_fake", {{"embed_base64", true}}}});
  ASSERT_EQ(res.status, 200) << res.body;
  const json emb = parse_json(res.body)["data"][0]["embedding"];
  ASSERT_TRUE(emb.is_array()) << res.body;
  EXPECT_EQ(floats_of(emb), fake_vector(0));
}

TEST_F(Embeddings, NoFormatAskedBase64AnsweredIsConvertedToFloats) {
  HttpResponse res = embed(gw.port(), {{"model", "text-embedding-3-small"},
                                       {"input", {"a", "b", "c"}},
                                       {"x_fake", {{"embed_base64", true}}}});
  ASSERT_EQ(res.status, 200) << res.body;
  const json j = parse_json(res.body);
  ASSERT_EQ(j["data"].size(), 3u) << res.body;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(j["data"][i]["embedding"].is_array()) << res.body;
    EXPECT_EQ(floats_of(j["data"][i]["embedding"]), fake_vector(i));
  }
}

TEST_F(Embeddings, MatchingEncodingIsRelayedByteForByte) {
  HttpResponse floats = embed(gw.port(), {{"model", "text-embedding-3-small"}, {"input", "x"}});
  ASSERT_EQ(floats.status, 200) << floats.body;
  EXPECT_EQ(floats_of(parse_json(floats.body)["data"][0]["embedding"]), fake_vector(0));
  HttpResponse b64 =
      embed(gw.port(), {{"model", "text-embedding-3-small"}, {"input", "x"}, {"encoding_format", "base64"}});
  ASSERT_EQ(b64.status, 200) << b64.body;
  EXPECT_EQ(decode_base64_floats(parse_json(b64.body)["data"][0]["embedding"]), fake_vector(0));
  // Not re-serialised: the upstream's own bytes (its key order, no spaces).
  EXPECT_EQ(b64.body.rfind("{\"object\":\"list\",\"data\":[{\"object\":\"embedding\",\"index\":0,", 0), 0u) << b64.body;
}

TEST_F(Embeddings, StreamFlagIsIgnoredForEmbeddings) {
  HttpResponse res = embed(gw.port(), {{"model", "text-embedding-3-small"}, {"input", "x"}, {"stream", true}});
  ASSERT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(res.headers["content-type"], "application/json");
}

TEST_F(Embeddings, InvalidRequestsAre400) {
  HttpResponse bad_format =
      embed(gw.port(), {{"model", "text-embedding-3-small"}, {"input", "x"}, {"encoding_format", "int8"}});
  EXPECT_EQ(bad_format.status, 400) << bad_format.body;
  EXPECT_EQ(parse_json(bad_format.body)["error"]["param"], "encoding_format");
  HttpResponse no_input = embed(gw.port(), {{"model", "text-embedding-3-small"}});
  EXPECT_EQ(no_input.status, 400) << no_input.body;
  EXPECT_EQ(parse_json(no_input.body)["error"]["param"], "input");
  HttpResponse bad_dims =
      embed(gw.port(), {{"model", "text-embedding-3-small"}, {"input", "x"}, {"dimensions", 0}});
  EXPECT_EQ(bad_dims.status, 400) << bad_dims.body;
  EXPECT_EQ(fake.request_count(), 0u);
}

// ---------------------------------------------------------------------------
// The mock provider's embeddings.

double norm(const std::vector<float>& v) {
  double s = 0;
  for (float x : v) s += static_cast<double>(x) * x;
  return std::sqrt(s);
}

TEST(MockEmbeddings, DimensionsHonouredInBothEncodings) {
  Gateway gw(mock_yaml({{"embedding_dims", "32"}}));
  ASSERT_TRUE(gw.started());
  HttpResponse dflt = embed(gw.port(), {{"model", "text-embedding-3-small"}, {"input", "hello"}});
  ASSERT_EQ(dflt.status, 200) << dflt.body;
  const std::vector<float> v32 = floats_of(parse_json(dflt.body)["data"][0]["embedding"]);
  EXPECT_EQ(v32.size(), 32u) << "mock.embedding_dims is the default";
  EXPECT_NEAR(norm(v32), 1.0, 1e-4);

  HttpResponse floats = embed(gw.port(), {{"model", "text-embedding-3-small"}, {"input", "hello"}, {"dimensions", 16}});
  ASSERT_EQ(floats.status, 200) << floats.body;
  const std::vector<float> v16 = floats_of(parse_json(floats.body)["data"][0]["embedding"]);
  EXPECT_EQ(v16.size(), 16u);
  EXPECT_NEAR(norm(v16), 1.0, 1e-4);

  HttpResponse b64 = embed(gw.port(), {{"model", "text-embedding-3-small"},
                                       {"input", "hello"},
                                       {"dimensions", 16},
                                       {"encoding_format", "base64"}});
  ASSERT_EQ(b64.status, 200) << b64.body;
  const json emb = parse_json(b64.body)["data"][0]["embedding"];
  ASSERT_TRUE(emb.is_string()) << b64.body;
  const std::vector<float> decoded = decode_base64_floats(emb.get<std::string>());
  ASSERT_EQ(decoded.size(), 16u);
  for (std::size_t i = 0; i < 16; ++i) EXPECT_NEAR(decoded[i], v16[i], 1e-6) << i;
}

TEST(MockEmbeddings, DeterministicPerInputAndOnePerInput) {
  Gateway gw(mock_yaml());
  ASSERT_TRUE(gw.started());
  json req = {{"model", "text-embedding-3-small"}, {"input", {"alpha", "beta", "alpha"}}, {"dimensions", 8}};
  HttpResponse a = embed(gw.port(), req), b = embed(gw.port(), req);
  ASSERT_EQ(a.status, 200) << a.body;
  ASSERT_EQ(b.status, 200) << b.body;
  const json ja = parse_json(a.body), jb = parse_json(b.body);
  ASSERT_EQ(ja["data"].size(), 3u);
  EXPECT_EQ(ja["data"], jb["data"]) << "same input, same vector";
  EXPECT_EQ(ja["data"][0]["embedding"], ja["data"][2]["embedding"]);
  EXPECT_NE(ja["data"][0]["embedding"], ja["data"][1]["embedding"]);
  EXPECT_EQ(ja["model"], "text-embedding-3-small");
  EXPECT_GT(ja["usage"]["prompt_tokens"].get<int>(), 0);
  EXPECT_EQ(a.headers["x-sluice-provider"], "mock");
}

}  // namespace
}  // namespace sluice::test
