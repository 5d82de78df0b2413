// What the inbound-dialect tests share: the gateway in front of each kind of
// upstream (an OpenAI-compatible fake, an Anthropic fake, the in-process
// mock), SSE bodies taken apart into named events, and the access-log line
// of a request (for the usage it counted).
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <thread>
#include <string>
#include <vector>

#include "gateway_fixture.hpp"
#include "sluice/net/sse.hpp"
#include "support/fake_upstream.hpp"
#include "support/stdout_capture.hpp"
#include "support/test_client.hpp"

namespace sluice::test {

enum class Upstream { openai, anthropic, mock };

inline const char* name_of(Upstream u) {
  switch (u) {
    case Upstream::openai: return "openai";
    case Upstream::anthropic: return "anthropic";
    case Upstream::mock: return "mock";
  }
  return "?";
}

// The gateway serving model "m" from one upstream of kind `kind` (provider
// "up", upstream model "up-model"); `extra` adds keys to the provider.
inline std::string dialect_yaml(Upstream kind, const FakeUpstream& fake, YamlPairs extra = {}) {
  ConfigBuilder b;
  const std::string origin = "http://127.0.0.1:" + std::to_string(fake.port());
  switch (kind) {
    case Upstream::openai: b.openai_provider("up", fake.base_url(), std::move(extra)); break;
    case Upstream::anthropic: b.provider("up", "anthropic", origin, std::move(extra)); break;
    case Upstream::mock: b.mock_provider("up", {{"stream_chunks", "3"}, {"completion_tokens", "6"}}); break;
  }
  return b.model("m", {{"up", "up-model"}}).yaml();
}

struct NamedEvent {
  std::string name;  // the event: line, "" when none
  json data;         // parsed; the text "[DONE]" as a string
};

// The events of an SSE body, with their names.
inline std::vector<NamedEvent> named_events(const std::string& body) {
  std::vector<NamedEvent> out;
  net::SseFramer framer;
  (void)framer.feed(body, [&](std::string_view raw) {
    NamedEvent e;
    if (raw.starts_with("event: ")) e.name = std::string(raw.substr(7, raw.find('\n') - 7));
    const std::string data = net::sse_data(raw);
    e.data = data == "[DONE]" ? json("[DONE]") : parse_json(data);
    out.push_back(std::move(e));
  });
  return out;
}

inline std::vector<std::string> names_of(const std::vector<NamedEvent>& events) {
  std::vector<std::string> names;
  for (const auto& e : events) names.push_back(e.name);
  return names;
}

// A gateway whose access log the test reads: one per test, logging at info.
class DialectGateway {
 public:
  DialectGateway(Upstream kind, YamlPairs extra = {})
      : kind_(kind), gateway_(dialect_yaml(kind, fake, std::move(extra)), GatewayOptions{.log_level = "info"}) {}

  std::uint16_t port() const { return gateway_.port(); }
  bool started() const { return gateway_.started(); }
  Upstream kind() const { return kind_; }

  FakeUpstream fake;  // first: the gateway's config names its port

 private:
  Upstream kind_;
  Gateway gateway_;
};

// The access-log line of the request `id` among the captured lines, waiting
// (bounded) for the session to write it after its answer; "" when none came.
inline std::string access_line(StdoutCapture& capture, const std::string& id) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  for (;;) {
    std::string line = log_line(capture.contents(), " request ", id);
    if (!line.empty() || std::chrono::steady_clock::now() > deadline) return line;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

// The number after `key=` in a log line; -1 when absent.
inline long long logged_number(const std::string& line, const std::string& key) {
  const std::size_t at = line.find(" " + key + "=");
  if (at == std::string::npos) return -1;
  return std::atoll(line.c_str() + at + key.size() + 2);
}

}  // namespace sluice::test
