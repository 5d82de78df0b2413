// parse_url: what a provider base_url may look like, and the Host header.
#include "sluice/net/url.hpp"

#include <gtest/gtest.h>

#include <ostream>
#include <string>

namespace sluice::net {
namespace {

struct Accepted {
  std::string text;
  bool tls;
  std::string host, port, path, host_header;
};

void PrintTo(const Accepted& a, std::ostream* os) { *os << a.text; }

class UrlAccepted : public ::testing::TestWithParam<Accepted> {};

TEST_P(UrlAccepted, Splits) {
  const Accepted& a = GetParam();
  const auto url = parse_url(a.text);
  ASSERT_TRUE(url.has_value()) << a.text;
  EXPECT_EQ(url->tls, a.tls) << a.text;
  EXPECT_EQ(url->host, a.host) << a.text;
  EXPECT_EQ(url->port, a.port) << a.text;
  EXPECT_EQ(url->path, a.path) << a.text;
  EXPECT_EQ(url->host_header(), a.host_header) << a.text;
}

INSTANTIATE_TEST_SUITE_P(
    Forms, UrlAccepted,
    ::testing::Values(
        Accepted{"http://example.com", false, "example.com", "80", "", "example.com"},
        Accepted{"https://api.openai.com/v1", true, "api.openai.com", "443", "/v1", "api.openai.com"},
        Accepted{"http://127.0.0.1:11434/v1", false, "127.0.0.1", "11434", "/v1", "127.0.0.1:11434"},
        Accepted{"https://localhost:8443", true, "localhost", "8443", "", "localhost:8443"},
        // an explicit default port is not repeated in the Host header
        Accepted{"http://h:80/x", false, "h", "80", "/x", "h"},
        Accepted{"https://h:443/x", true, "h", "443", "/x", "h"},
        // the other scheme's default port is not a default
        Accepted{"http://h:443", false, "h", "443", "", "h:443"},
        Accepted{"https://h:80", true, "h", "80", "", "h:80"},
        Accepted{"http://[::1]:8080/v1", false, "::1", "8080", "/v1", "[::1]:8080"},
        Accepted{"https://[::1]", true, "::1", "443", "", "[::1]"},
        Accepted{"http://[2001:db8::1]/", false, "2001:db8::1", "80", "", "[2001:db8::1]"},
        // trailing slashes trimmed
        Accepted{"http://h/", false, "h", "80", "", "h"},
        Accepted{"http://h/v1/", false, "h", "80", "/v1", "h"},
        Accepted{"http://h/v1//", false, "h", "80", "/v1", "h"},
        Accepted{"http://h:1/a/b/c", false, "h", "1", "/a/b/c", "h:1"},
        Accepted{"http://h:65535", false, "h", "65535", "", "h:65535"}));

class UrlRejected : public ::testing::TestWithParam<std::string> {};

TEST_P(UrlRejected, ReturnsNullopt) { EXPECT_FALSE(parse_url(GetParam()).has_value()) << GetParam(); }

INSTANTIATE_TEST_SUITE_P(
    Garbage, UrlRejected,
    ::testing::Values("", "example.com", "ftp://example.com", "HTTP//x", "ws://h", "http:/h", "https//h",
                      "http://", "https://", "http:///v1", "http://:8080", "http://:8080/v1",
                      "http://h:0", "http://h:70000", "http://h:65536", "http://h:abc",
                      "http://h:-1", "http://h:80x", "http://h: 80",
                      "http://user@h", "http://user:pass@h/v1", "http://h/v1?x=1", "http://h?x",
                      "http://h/v1#frag", "http://h /v1", "http://[::1", "http://[::1]x", "http://[]:80",
                      "http://[::1]:0", "http://h:80:90", "http://::1/v1", "http://fe80::1:8080"));

TEST(Url, EmptyPortMeansTheDefault) {
  // RFC 3986 allows "host:" with an empty port.
  const auto url = parse_url("http://h:/v1");
  ASSERT_TRUE(url.has_value());
  EXPECT_EQ(url->port, "80");
  EXPECT_EQ(url->path, "/v1");
}

}  // namespace
}  // namespace sluice::net
