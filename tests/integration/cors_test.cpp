// server.cors end to end: preflights answered for allowed origins, responses
// (errors and streams included) readable by them, nothing for other origins,
// and nothing at all while CORS is off.
#include <gtest/gtest.h>

#include <string>

#include "gateway_fixture.hpp"
#include "support/test_client.hpp"

namespace sluice::test {
namespace {

using namespace std::chrono_literals;

constexpr const char* kChat = "/v1/chat/completions";

std::string cors_yaml(const std::string& origins) {
  return mock_yaml({}, {{"cors", "{ allowed_origins: " + origins + ", max_age: 10m }"}});
}

HttpResponse preflight(std::uint16_t port, const std::string& origin, const std::string& headers) {
  return raw_request(port,
                     "OPTIONS /v1/chat/completions HTTP/1.1\r\nHost: x\r\nOrigin: " + origin +
                         "\r\nAccess-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: " + headers +
                         "\r\n\r\n",
                     3s);
}

TEST(Cors, OffByDefault) {
  Gateway gw(mock_yaml());
  ASSERT_TRUE(gw.started());
  HttpResponse pre = preflight(gw.port(), "https://app.example", "authorization, content-type");
  EXPECT_EQ(pre.status, 405) << pre.body;
  EXPECT_EQ(pre.headers.count("access-control-allow-origin"), 0u);
  HttpResponse res = http_request(gw.port(), "POST", kChat, chat_body("gpt-4o-mini"), {{"Origin", "https://app.example"}});
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.headers.count("access-control-allow-origin"), 0u);
}

TEST(Cors, PreflightFromAnAllowedOriginIs204WithTheAllowHeaders) {
  Gateway gw(cors_yaml(R"(["https://app.example", "http://localhost:3000"])"));
  ASSERT_TRUE(gw.started());
  HttpResponse pre = preflight(gw.port(), "https://app.example", "authorization, content-type, x-stainless-os");
  EXPECT_EQ(pre.status, 204) << pre.error << pre.body;
  EXPECT_TRUE(pre.body.empty());
  EXPECT_EQ(pre.headers.count("content-length"), 0u) << "a 204 carries no Content-Length";
  EXPECT_EQ(pre.headers["access-control-allow-origin"], "https://app.example");
  EXPECT_NE(pre.headers["access-control-allow-methods"].find("POST"), std::string::npos);
  EXPECT_NE(pre.headers["access-control-allow-headers"].find("x-stainless-os"), std::string::npos)
      << pre.headers["access-control-allow-headers"];
  EXPECT_NE(pre.headers["access-control-allow-headers"].find("authorization"), std::string::npos);
  EXPECT_EQ(pre.headers["access-control-max-age"], "600");
  EXPECT_NE(pre.headers["vary"].find("Origin"), std::string::npos);
  EXPECT_FALSE(pre.connection_closed) << "a preflight keeps the connection";
}

TEST(Cors, ResponsesToAnAllowedOriginCarryAllowOriginAndVary) {
  Gateway gw(cors_yaml(R"(["https://app.example"])"));
  ASSERT_TRUE(gw.started());
  HttpResponse res = http_request(gw.port(), "POST", kChat, chat_body("gpt-4o-mini"), {{"Origin", "https://app.example"}});
  EXPECT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(res.headers["access-control-allow-origin"], "https://app.example");
  EXPECT_NE(res.headers["vary"].find("Origin"), std::string::npos);
  EXPECT_NE(res.headers["access-control-expose-headers"].find("x-request-id"), std::string::npos);
  // Errors too: a browser must be able to read them.
  HttpResponse bad = http_request(gw.port(), "POST", kChat, "{oops", {{"Origin", "https://app.example"}});
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.headers["access-control-allow-origin"], "https://app.example");
  // Streams as well.
  SseReader sse(gw.port(), kChat, chat_body("gpt-4o-mini", {{"stream", true}}), {{"Origin", "https://app.example"}});
  EXPECT_EQ(sse.status(), 200);
  EXPECT_EQ(sse.headers().count("access-control-allow-origin") ? sse.headers().at("access-control-allow-origin") : "",
            "https://app.example");
}

TEST(Cors, AnotherOriginGetsNoAllowOrigin) {
  Gateway gw(cors_yaml(R"(["https://app.example"])"));
  ASSERT_TRUE(gw.started());
  HttpResponse pre = preflight(gw.port(), "https://evil.example", "authorization");
  EXPECT_EQ(pre.headers.count("access-control-allow-origin"), 0u);
  HttpResponse res = http_request(gw.port(), "POST", kChat, chat_body("gpt-4o-mini"), {{"Origin", "https://evil.example"}});
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.headers.count("access-control-allow-origin"), 0u);
  EXPECT_NE(res.headers["vary"].find("Origin"), std::string::npos) << "caches must key on Origin";
}

TEST(Cors, WildcardAllowsEveryOrigin) {
  Gateway gw(cors_yaml(R"(["*"])"));
  ASSERT_TRUE(gw.started());
  HttpResponse pre = preflight(gw.port(), "https://anyone.example", "authorization, content-type");
  EXPECT_EQ(pre.status, 204);
  EXPECT_EQ(pre.headers["access-control-allow-origin"], "*");
  HttpResponse res = http_request(gw.port(), "GET", "/v1/models", {}, {{"Origin", "https://anyone.example"}});
  EXPECT_EQ(res.headers["access-control-allow-origin"], "*");
}

}  // namespace
}  // namespace sluice::test
