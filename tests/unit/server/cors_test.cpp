// CORS: which requests are preflights, what a preflight is answered for an
// allowed origin, another origin and "*", and the headers added to answers.
#include "cors.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "reply_fields.hpp"

namespace sluice::server {
namespace {

using test_fields::Headers;
using test_fields::header;
using test_fields::lookup;

CorsConfig origins(std::vector<std::string> list) {
  CorsConfig c;
  c.allowed_origins = std::move(list);
  return c;
}

TEST(Cors, APreflightIsOptionsWithOriginAndRequestMethod) {
  const Headers full{{"origin", "https://a.example"}, {"access-control-request-method", "POST"}};
  EXPECT_TRUE(is_preflight("OPTIONS", lookup(full)));
  EXPECT_FALSE(is_preflight("POST", lookup(full)));
  const Headers no_method{{"origin", "https://a.example"}};
  EXPECT_FALSE(is_preflight("OPTIONS", lookup(no_method)));
  const Headers no_origin{{"access-control-request-method", "POST"}};
  EXPECT_FALSE(is_preflight("OPTIONS", lookup(no_origin)));
}

TEST(Cors, PreflightFromAnAllowedOrigin) {
  const Headers h{{"origin", "https://a.example"},
                  {"access-control-request-method", "POST"},
                  {"access-control-request-headers", "authorization, content-type, x-stainless-os"}};
  const Reply r = preflight_reply(origins({"https://b.example", "https://a.example"}), lookup(h));
  EXPECT_EQ(r.status, 204);
  EXPECT_TRUE(r.body.empty());
  EXPECT_TRUE(r.content_type.empty());
  EXPECT_EQ(header(r, "access-control-allow-origin"), "https://a.example");
  EXPECT_EQ(header(r, "access-control-allow-methods"), "GET, POST, HEAD, OPTIONS");
  EXPECT_EQ(header(r, "access-control-allow-headers"), "authorization, content-type, x-stainless-os");
  EXPECT_EQ(header(r, "access-control-max-age"), "600");
  EXPECT_EQ(header(r, "vary"), "Origin, Access-Control-Request-Method, Access-Control-Request-Headers");
  EXPECT_TRUE(header(r, "access-control-allow-credentials").empty());
}

TEST(Cors, PreflightFromAnotherOriginAllowsNothing) {
  const Headers h{{"origin", "https://evil.example"}, {"access-control-request-method", "POST"}};
  const Reply r = preflight_reply(origins({"https://a.example"}), lookup(h));
  EXPECT_EQ(r.status, 204);
  for (const auto& field : r.headers) EXPECT_FALSE(field.name.starts_with("access-control-")) << field.name;
  EXPECT_FALSE(header(r, "vary").empty());
}

TEST(Cors, OriginsCompareWithoutCaseAndOnlyWhole) {
  const CorsConfig c = origins({"https://a.example"});
  for (const char* origin : {"https://A.Example", "https://a.example"}) {
    const Headers h{{"origin", origin}, {"access-control-request-method", "GET"}};
    EXPECT_EQ(header(preflight_reply(c, lookup(h)), "access-control-allow-origin"), origin);
  }
  for (const char* origin : {"https://a.example.evil", "http://a.example", "https://a.example:8443", "null"}) {
    const Headers h{{"origin", origin}, {"access-control-request-method", "GET"}};
    EXPECT_TRUE(header(preflight_reply(c, lookup(h)), "access-control-allow-origin").empty()) << origin;
  }
}

TEST(Cors, RequestedHeadersThatAreNotAPlainListAreNotEchoed) {
  const Headers h{{"origin", "https://a.example"},
                  {"access-control-request-method", "POST"},
                  {"access-control-request-headers", "x-a;\"quoted\""}};
  const Reply r = preflight_reply(origins({"https://a.example"}), lookup(h));
  EXPECT_EQ(header(r, "access-control-allow-origin"), "https://a.example");
  EXPECT_TRUE(header(r, "access-control-allow-headers").empty());
}

TEST(Cors, WildcardAnswersStar) {
  CorsConfig c = origins({"*"});
  c.max_age = std::chrono::hours(2);
  const Headers h{{"origin", "https://anyone.example"}, {"access-control-request-method", "POST"}};
  const Reply pre = preflight_reply(c, lookup(h));
  EXPECT_EQ(header(pre, "access-control-allow-origin"), "*");
  EXPECT_EQ(header(pre, "access-control-max-age"), "7200");
  Reply answer;
  add_cors_headers(c, lookup(h), answer);
  EXPECT_EQ(header(answer, "access-control-allow-origin"), "*");
  EXPECT_TRUE(header(answer, "vary").empty()) << "the answer does not depend on Origin";
}

TEST(Cors, AnswersToAnAllowedOriginAreReadableAndVaryOnOrigin) {
  const CorsConfig c = origins({"https://a.example"});
  Reply allowed;
  const Headers a{{"origin", "https://a.example"}};
  add_cors_headers(c, lookup(a), allowed);
  EXPECT_EQ(header(allowed, "access-control-allow-origin"), "https://a.example");
  EXPECT_NE(header(allowed, "access-control-expose-headers").find("x-request-id"), std::string::npos);
  EXPECT_NE(header(allowed, "access-control-expose-headers").find("retry-after-ms"), std::string::npos);
  EXPECT_NE(header(allowed, "access-control-expose-headers").find(" request-id,"), std::string::npos)
      << "the Anthropic SDK's requestID";
  EXPECT_EQ(header(allowed, "vary"), "Origin");

  Reply other, none;
  const Headers b{{"origin", "https://b.example"}};
  add_cors_headers(c, lookup(b), other);
  add_cors_headers(c, lookup(Headers{}), none);
  for (const Reply* r : {&other, &none}) {
    EXPECT_TRUE(header(*r, "access-control-allow-origin").empty());
    EXPECT_EQ(header(*r, "vary"), "Origin") << "a cache must not serve this answer to an allowed origin";
  }
}

}  // namespace
}  // namespace sluice::server
