// Helpers of the dialect tests: JSON compared by value against recorded
// samples, SSE texts taken apart into (event name, JSON data) pairs, and
// hostile bodies built to size.
#pragma once

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "dialect_streams.hpp"
#include "sluice/net/sse.hpp"
#include "support/fixture.hpp"

namespace sluice::server::dialect_test {

using json = nlohmann::json;

// `text` parsed; a failure (and null) when it is not JSON.
inline json parsed(const std::string& text) {
  json j = json::parse(text, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << "not JSON: " << text;
  return j.is_discarded() ? json() : j;
}

// `actual` (JSON text) equals the recorded sample by value; on a mismatch
// the actual value is printed whole.
inline void expect_fixture(const std::string& actual, const std::string& fixture) {
  const json want = parsed(test::read_fixture(fixture));
  const json got = parsed(actual);
  EXPECT_EQ(got, want) << fixture << " differs; got:\n" << got.dump(2);
}

struct Event {
  std::string name;  // the `event:` line's value, "" when none
  json data;         // the data parsed, or the text "[DONE]"
};

// The events of an SSE text, in order.
inline std::vector<Event> events_of(const std::string& text) {
  std::vector<Event> out;
  net::SseFramer framer;
  EXPECT_TRUE(framer.feed(text, [&](std::string_view raw) {
    Event e;
    const std::string_view prefix = "event: ";
    if (raw.starts_with(prefix)) e.name = std::string(raw.substr(prefix.size(), raw.find('\n') - prefix.size()));
    const std::string data = net::sse_data(raw);
    e.data = data == "[DONE]" ? json("[DONE]") : parsed(data);
    out.push_back(std::move(e));
  }));
  return out;
}

// An SSE text against a recorded one, event by event: names and data by value.
inline void expect_stream_fixture(const std::string& actual, const std::string& fixture) {
  const std::vector<Event> got = events_of(actual), want = events_of(test::read_fixture(fixture));
  EXPECT_EQ(got.size(), want.size()) << fixture << ": got\n" << actual;
  for (std::size_t i = 0; i < std::min(got.size(), want.size()); ++i) {
    EXPECT_EQ(got[i].name, want[i].name) << fixture << " event " << i;
    EXPECT_EQ(got[i].data, want[i].data) << fixture << " event " << i << "; got:\n" << got[i].data.dump();
  }
}

// A chat stream fed to `translator` event by event, as the upstream cut it;
// what it yields. Every event must translate, and the translator end.
template <class Translator>
std::string translate(Translator&& translator, const std::string& chat_stream, const Usage& usage = {}) {
  std::string out;
  net::SseFramer framer;
  EXPECT_TRUE(framer.feed(chat_stream, [&](std::string_view raw) {
    auto event = read_chat_event(raw);
    ASSERT_TRUE(event.ok()) << event.error().message;
    if (event->kind == ChatEvent::Kind::nothing) return;
    const Status s = translator.feed(*event, usage, out);
    EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().message);
  }));
  EXPECT_TRUE(translator.done());
  return out;
}

// {"model":"m", <key>: [[[[...]]]] } nested `depth` deep.
inline std::string nested_body(const std::string& head, const std::string& key, std::size_t depth) {
  return head.substr(0, head.size() - 1) + ",\"" + key + "\":" + std::string(depth, '[') + std::string(depth, ']') + "}";
}

}  // namespace sluice::server::dialect_test
