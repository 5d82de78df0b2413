// Configuration reload as the daemon does it: SIGHUP and a change of the
// file (an editor's write, kubectl's rename-over) apply a new configuration
// without a restart; a bad file or a setting that needs a restart leaves
// the running one in use, logged and counted; requests and streams in
// flight finish under the configuration they started with; a key's bucket
// level and the answer cache survive a reload that does not touch them.
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <future>
#include <string>
#include <thread>

#include "daemon_process.hpp"
#include "gateway_fixture.hpp"
#include "support/test_client.hpp"
#include "support/test_pki.hpp"

namespace sluice::test {
namespace {

using namespace std::chrono_literals;

// printf 'sk-test-0123456789abcdef' | sha256sum
constexpr std::string_view kKey = "sk-test-0123456789abcdef";
constexpr std::string_view kKeyDigest = "c871f067542d565c57ebb8b54f99afe326644dceeb5c05fc2209a8161a52875e";

Headers auth() { return {{"authorization", "Bearer " + std::string(kKey)}}; }

// A configuration: a fast mock provider `fast` and a slow one `slow`, a key
// limited to `rpm` requests a minute, and the given models.
std::string yaml(const std::string& models, int rpm = 100, const std::string& server_extra = "") {
  return "server:\n  listen: \"127.0.0.1:0\"\n" + server_extra +
         "auth:\n  keys:\n    - { sha256: " + std::string(kKeyDigest) + ", id: k1, tenant: team, rpm: " +
         std::to_string(rpm) + " }\n"
         "providers:\n"
         "  - { name: fast, type: mock }\n"
         "  - { name: slow, type: mock, mock: { latency: 1000ms, stream_chunks: 6, chunk_interval: 300ms } }\n"
         "models:\n" + models;
}

const std::string kModelA = "  - { name: a, deployments: [{ provider: fast, model: a }] }\n";
const std::string kModelB = "  - { name: b, deployments: [{ provider: fast, model: b }] }\n";
const std::string kSlowA = "  - { name: a, deployments: [{ provider: slow, model: a }] }\n";

// The value of one sample in a /metrics document, -1 when absent.
double sample(const std::string& metrics, const std::string& series) {
  const auto at = metrics.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(metrics.substr(at + series.size() + 2));
}

class Reload : public ::testing::Test {
 protected:
  TestPki files;  // for its directory
  std::string path = files.write("sluice.yaml", yaml(kModelA));

  // Replaces the file as kubectl and most editors do: a new file renamed over it.
  void rename_over(const std::string& text) {
    const std::string tmp = files.write("sluice.yaml.next", text);
    std::filesystem::rename(tmp, path);
  }
  int chat(std::uint16_t port, const std::string& model) {
    return http_request(port, "POST", "/v1/chat/completions", chat_body(model), auth()).status;
  }
  double reloads(std::uint16_t port, const std::string& result) {
    return sample(http_request(port, "GET", "/metrics").body, "sluice_config_reloads_total{result=\"" + result + "\"}");
  }
};

TEST_F(Reload, SighupAppliesANewModelAndDropsARemovedOne) {
  // SIGHUP alone: the watch would reload the same write too, first when the
  // signal's reload runs later than its 200 ms debounce (two successes).
  const std::string watch_off = "  reload_watch: false\n";
  files.write("sluice.yaml", yaml(kModelA, 100, watch_off));
  DaemonProcess daemon({"--config", path});
  const std::uint16_t port = daemon.wait_for_port();
  ASSERT_NE(port, 0) << daemon.output();
  ASSERT_EQ(chat(port, "a"), 200);
  ASSERT_EQ(chat(port, "b"), 404);

  files.write("sluice.yaml", yaml(kModelB, 100, watch_off));
  const std::size_t mark = daemon.output().size();
  daemon.signal(SIGHUP);
  const std::string line = daemon.wait_for_line("\"event\":\"config_reloaded\"", 5s, mark);
  ASSERT_FALSE(line.empty()) << daemon.output();
  EXPECT_NE(line.find("\"models_added\":1"), std::string::npos) << line;
  EXPECT_NE(line.find("\"models_removed\":1"), std::string::npos) << line;
  EXPECT_EQ(chat(port, "b"), 200);
  EXPECT_EQ(chat(port, "a"), 404);
  EXPECT_EQ(reloads(port, "success"), 1);
  EXPECT_EQ(reloads(port, "failure"), 0);
  // The new model has its series.
  EXPECT_NE(http_request(port, "GET", "/metrics").body.find("model=\"b\""), std::string::npos);
}

TEST_F(Reload, RenamingANewFileOverTheOldReloadsWithoutASignal) {
  DaemonProcess daemon({"--config", path});
  const std::uint16_t port = daemon.wait_for_port();
  ASSERT_NE(port, 0) << daemon.output();
  ASSERT_FALSE(daemon.wait_for_line("\"event\":\"config_watch\"").empty()) << daemon.output();
  ASSERT_EQ(chat(port, "b"), 404);

  rename_over(yaml(kModelA + kModelB));
  ASSERT_FALSE(daemon.wait_for_line("\"event\":\"config_reloaded\"", 5s).empty()) << daemon.output();
  EXPECT_EQ(chat(port, "b"), 200);
  EXPECT_EQ(chat(port, "a"), 200);

  // The same content again (a touch, an unrelated save): no reload.
  const std::size_t mark = daemon.output().size();
  rename_over(yaml(kModelA + kModelB));
  files.write("unrelated.txt", "x");
  EXPECT_TRUE(daemon.wait_for_line("\"event\":\"config_reload", 1s, mark).empty()) << daemon.output();
  EXPECT_EQ(reloads(port, "success"), 1);
}

TEST_F(Reload, TheWatchCanBeTurnedOff) {
  files.write("sluice.yaml", yaml(kModelA, 100, "  reload_watch: false\n"));
  DaemonProcess daemon({"--config", path});
  const std::uint16_t port = daemon.wait_for_port();
  ASSERT_NE(port, 0) << daemon.output();
  rename_over(yaml(kModelA + kModelB, 100, "  reload_watch: false\n"));
  EXPECT_TRUE(daemon.wait_for_line("\"event\":\"config_reloaded\"", 1s).empty()) << daemon.output();
  EXPECT_EQ(chat(port, "b"), 404);
  daemon.signal(SIGHUP);  // SIGHUP still does
  ASSERT_FALSE(daemon.wait_for_line("\"event\":\"config_reloaded\"", 5s).empty()) << daemon.output();
  EXPECT_EQ(chat(port, "b"), 200);
}

TEST_F(Reload, ABadFileKeepsTheRunningConfigurationAndIsLoggedAndCounted) {
  DaemonProcess daemon({"--config", path});
  const std::uint16_t port = daemon.wait_for_port();
  ASSERT_NE(port, 0) << daemon.output();

  rename_over(yaml(kModelB) + "  - { name: c, deployments: [{ provider: nowhere, model: c }] }\n"
                               "bogus_key: 1\n");
  const std::string line = daemon.wait_for_line("\"event\":\"config_reload_failed\"", 5s);
  ASSERT_FALSE(line.empty()) << daemon.output();
  EXPECT_NE(line.find(path + ":"), std::string::npos) << "file:line problems: " << line;
  EXPECT_NE(line.find("bogus_key"), std::string::npos) << line;
  EXPECT_NE(line.find("nowhere"), std::string::npos) << line;
  EXPECT_EQ(line.find(std::string(kKeyDigest)), std::string::npos) << line;
  EXPECT_EQ(chat(port, "a"), 200) << "the old configuration keeps serving";
  EXPECT_EQ(chat(port, "b"), 404);
  EXPECT_EQ(reloads(port, "failure"), 1);
  EXPECT_EQ(reloads(port, "success"), 0);

  // A setting that needs a restart is refused the same way.
  std::string moved = yaml(kModelB);
  moved.replace(moved.find("127.0.0.1:0"), 11, "127.0.0.1:1");
  files.write("sluice.yaml", moved);
  daemon.signal(SIGHUP);
  const std::string restart = daemon.wait_for_line("needs a restart", 5s);
  ASSERT_FALSE(restart.empty()) << daemon.output();
  EXPECT_NE(restart.find("server.listen"), std::string::npos) << restart;
  EXPECT_EQ(chat(port, "b"), 404);
  EXPECT_EQ(reloads(port, "failure"), 2);

  // Fixed: the next change applies.
  rename_over(yaml(kModelB));
  ASSERT_FALSE(daemon.wait_for_line("\"event\":\"config_reloaded\"", 5s).empty()) << daemon.output();
  EXPECT_EQ(chat(port, "b"), 200);
}

TEST_F(Reload, AKeyAtItsRpmLimitIsStillLimitedAfterAReloadThatDoesNotTouchIt) {
  files.write("sluice.yaml", yaml(kModelA, 2));
  DaemonProcess daemon({"--config", path});
  const std::uint16_t port = daemon.wait_for_port();
  ASSERT_NE(port, 0) << daemon.output();
  ASSERT_EQ(chat(port, "a"), 200);
  ASSERT_EQ(chat(port, "a"), 200);
  ASSERT_EQ(chat(port, "a"), 429);

  files.write("sluice.yaml", yaml(kModelA + kModelB, 2));
  daemon.signal(SIGHUP);
  ASSERT_FALSE(daemon.wait_for_line("\"event\":\"config_reloaded\"", 5s).empty()) << daemon.output();
  EXPECT_EQ(chat(port, "b"), 429) << "the key's bucket carried over; a fresh one would admit two";
}

TEST_F(Reload, RequestsAndStreamsInFlightFinishUnderTheirConfiguration) {
  files.write("sluice.yaml", yaml(kSlowA));
  DaemonProcess daemon({"--config", path});
  const std::uint16_t port = daemon.wait_for_port();
  ASSERT_NE(port, 0) << daemon.output();

  // A stream (its head after 1 s, then a chunk every 300 ms), and a
  // non-streamed answer the slow provider takes 1 s to give.
  SseReader stream(port, "/v1/chat/completions", chat_body("a", {{"stream", true}}), auth());
  ASSERT_EQ(stream.status(), 200);
  const auto in_flight = [&] { return sample(http_request(port, "GET", "/metrics").body, "sluice_inflight_requests"); };
  const double before = in_flight();
  auto pending = std::async(std::launch::async, [&] {
    return http_request(port, "POST", "/v1/chat/completions", chat_body("a"), auth());
  });
  const auto deadline = std::chrono::steady_clock::now() + 2s;
  while (in_flight() <= before && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
  ASSERT_GT(in_flight(), before) << "the non-streamed request is in flight";

  // Model a now goes to the fast provider, and b appears.
  files.write("sluice.yaml", yaml(kModelA + kModelB));
  daemon.signal(SIGHUP);
  ASSERT_FALSE(daemon.wait_for_line("\"event\":\"config_reloaded\"", 5s).empty()) << daemon.output();
  const auto fresh = http_request(port, "POST", "/v1/chat/completions", chat_body("a"), auth());
  EXPECT_EQ(fresh.status, 200);
  EXPECT_EQ(fresh.headers.at("x-sluice-provider"), "fast") << "new requests take the new configuration";

  const HttpResponse old = pending.get();
  EXPECT_EQ(old.status, 200) << old.body;
  EXPECT_EQ(old.headers.at("x-sluice-provider"), "slow") << "the request finished where it started";
  EXPECT_EQ(stream.headers().at("x-sluice-provider"), "slow");
  std::vector<std::string> events;
  for (auto e = stream.next_event(5s); e; e = stream.next_event(5s)) events.push_back(*e);
  EXPECT_TRUE(stream.ended_cleanly()) << stream.body();
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back(), "[DONE]");
  for (const auto& e : events) EXPECT_FALSE(is_error_event(e)) << e;

  daemon.signal(SIGTERM);
  EXPECT_EQ(daemon.wait_exit(5s), 0) << daemon.output();
}

TEST_F(Reload, SighupsDuringAReloadAreNotLost) {
  DaemonProcess daemon({"--config", path});
  const std::uint16_t port = daemon.wait_for_port();
  ASSERT_NE(port, 0) << daemon.output();
  for (int i = 0; i < 5; ++i) daemon.signal(SIGHUP);
  files.write("sluice.yaml", yaml(kModelA + kModelB));
  daemon.signal(SIGHUP);
  // However the signals were coalesced, the last one came after the write.
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (chat(port, "b") != 200 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(20ms);
  EXPECT_EQ(chat(port, "b"), 200) << daemon.output();
  EXPECT_GE(reloads(port, "success"), 1);
  EXPECT_LE(reloads(port, "success"), 6);
}

TEST_F(Reload, TheAnswerCacheSurvivesAReloadThatLeavesItsSettingsAlone) {
  // SIGHUP alone: with the watch on, its reload of one write could be the
  // config_reloaded line read after the next write.
  const std::string watch_off = "  reload_watch: false\n";
  const std::string cache = "cache:\n  enabled: true\n";
  files.write("sluice.yaml", yaml(kModelA, 100, watch_off) + cache);
  DaemonProcess daemon({"--config", path});
  const std::uint16_t port = daemon.wait_for_port();
  ASSERT_NE(port, 0) << daemon.output();
  auto ask = [&] {
    return http_request(port, "POST", "/v1/chat/completions", chat_body("a"), auth()).headers["x-sluice-cache"];
  };
  ASSERT_EQ(ask(), "miss");
  ASSERT_EQ(ask(), "hit-exact");

  files.write("sluice.yaml", yaml(kModelA + kModelB, 100, watch_off) + cache);
  std::size_t mark = daemon.output().size();
  daemon.signal(SIGHUP);
  std::string line = daemon.wait_for_line("\"event\":\"config_reloaded\"", 5s, mark);
  ASSERT_FALSE(line.empty()) << daemon.output();
  EXPECT_NE(line.find("\"cache\":\"kept\""), std::string::npos) << line;
  EXPECT_EQ(ask(), "hit-exact") << "the entries survived";

  // A changed cache section builds a new, empty cache.
  files.write("sluice.yaml", yaml(kModelA + kModelB, 100, watch_off) + cache + "  ttl: 10m\n");
  mark = daemon.output().size();
  daemon.signal(SIGHUP);
  line = daemon.wait_for_line("\"event\":\"config_reloaded\"", 5s, mark);
  ASSERT_FALSE(line.empty()) << daemon.output();
  EXPECT_NE(line.find("\"cache\":\"rebuilt\""), std::string::npos) << line;
  EXPECT_EQ(ask(), "miss");
}

}  // namespace
}  // namespace sluice::test
