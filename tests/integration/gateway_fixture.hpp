// Integration-test support: boots the real gateway (sluice::App) in-process on
// 127.0.0.1:<ephemeral port>, on its own io_context thread, from a YAML string.
//
//   FakeUpstream fake;
//   Gateway gw(ConfigBuilder().openai_provider("up", fake.base_url()).model("m", {{"up", "m"}}).yaml());
//   ASSERT_TRUE(gw.started());
//   HttpResponse res = http_request(gw.port(), "POST", "/v1/chat/completions", body);
//
// Everything here is bounded in time: nothing sleeps waiting for a condition,
// and the destructor never blocks for more than about 15 s even if the gateway
// misbehaves (the failure is reported to GoogleTest instead).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "sluice/core/config.hpp"

namespace boost::asio {
class io_context;
}

namespace sluice {
class App;
}

namespace sluice::test {

// ---------------------------------------------------------------------------
// YAML for the gateway. Values are written as given (quote them yourself when
// YAML needs it); server.listen is always forced to 127.0.0.1:0 by Gateway.

using YamlPairs = std::vector<std::pair<std::string, std::string>>;

class ConfigBuilder {
 public:
  // A key under `server:` (e.g. server("max_body_bytes", "2048")).
  ConfigBuilder& server(std::string key, std::string value);
  // A provider of type openai. `extra` adds keys such as api_key, ca_file,
  // first_byte_timeout.
  ConfigBuilder& openai_provider(std::string name, std::string base_url, YamlPairs extra = {});
  // A provider of any HTTP type (openai, azure, anthropic, ollama). In a
  // canary run (support/canary.hpp) a provider without an api_key in `extra`
  // gets test_secret("provider-<name>"); write api_key: "\"\"" for none.
  ConfigBuilder& provider(std::string name, std::string type, std::string base_url, YamlPairs extra = {});
  // A provider of type mock; `mock` fills its mock: section (latency,
  // stream_chunks, chunk_interval, completion_tokens, embedding_dims). A
  // canary run gives it a key too.
  ConfigBuilder& mock_provider(std::string name, YamlPairs mock = {}, YamlPairs extra = {});
  // A model group; deployments are (provider, upstream model).
  ConfigBuilder& model(std::string name, std::vector<std::pair<std::string, std::string>> deployments);
  // A model group whose deployments carry keys of their own (weight, priority, rpm, tpm).
  struct DeploymentYaml {
    std::string provider, model;
    YamlPairs extra;
  };
  ConfigBuilder& model_with(std::string name, std::vector<DeploymentYaml> deployments);
  // A key under `queue:` (e.g. queue("max_wait", "0s") for a 429 at once).
  ConfigBuilder& queue(std::string key, std::string value);
  // logging.level in the YAML (the process logger is set up by Gateway).
  ConfigBuilder& logging_level(std::string level);

  std::string yaml() const;

 private:
  YamlPairs server_;
  YamlPairs queue_;
  std::vector<std::string> providers_;  // rendered list items
  std::vector<std::string> models_;
  std::string logging_level_;
};

// A one-deployment config: provider "up" (openai, at base_url) serving model
// `model_name` under the same upstream name.
std::string single_openai_yaml(const std::string& base_url, const std::string& model_name = "gpt-test",
                               YamlPairs provider_extra = {}, YamlPairs server = {});

// A mock-only config: provider "mock" serving gpt-4o-mini, gpt-4o and
// text-embedding-3-small.
std::string mock_yaml(YamlPairs mock = {}, YamlPairs server = {});

// The line of `event` in `logs` (the gateway's text-format log, as a
// StdoutCapture took it) that carries `request_id`; "" when there is none.
std::string log_line(const std::string& logs, std::string_view event, const std::string& request_id);

// ---------------------------------------------------------------------------

struct GatewayOptions {
  // Process log level for the gateway's logger: trace | debug | info | warn |
  // error | off. Empty: $SLUICE_TEST_LOG if set, else "off" (tests stay quiet).
  std::string log_level;
  // Bound on the graceful shutdown the destructor performs.
  std::chrono::milliseconds shutdown_timeout{10'000};
};

class Gateway {
 public:
  // Loads the YAML (a load problem fails the current test with the problems
  // listed), forces server.listen to 127.0.0.1:0, builds and starts the App,
  // and runs its io_context on a background thread. Check started().
  explicit Gateway(const std::string& yaml, GatewayOptions options = {});
  // Graceful shutdown (bounded), then the App is destroyed on its own thread.
  ~Gateway();
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  bool started() const { return started_; }
  std::uint16_t port() const { return port_; }
  const GatewayConfig& config() const;

  // Posts App::shutdown onto the gateway's loop and returns at once.
  void begin_shutdown();
  // Blocks until the shutdown's completion callback has run, or the timeout.
  bool wait_shutdown(std::chrono::milliseconds timeout);
  bool shutdown_done() const;
  // When begin_shutdown posted the shutdown / when its callback ran.
  std::chrono::steady_clock::time_point shutdown_started_at() const;
  std::chrono::steady_clock::time_point shutdown_done_at() const;

  // Runs `fn` on the gateway's loop thread and waits for it (bounded); false on timeout.
  bool run_on_loop(std::function<void()> fn, std::chrono::milliseconds timeout = std::chrono::seconds(5));

 private:
  void stop();

  GatewayOptions options_;
  std::unique_ptr<boost::asio::io_context> io_;
  std::unique_ptr<App> app_;
  std::shared_ptr<void> work_;  // the io_context's work guard
  std::thread thread_;
  bool started_ = false;
  bool stopped_ = false;
  std::uint16_t port_ = 0;
  std::optional<GatewayConfig> config_;

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  bool shutdown_begun_ = false;
  bool shutdown_done_ = false;
  bool loop_exited_ = false;
  std::chrono::steady_clock::time_point shutdown_started_at_{};
  std::chrono::steady_clock::time_point shutdown_done_at_{};
};

// ---------------------------------------------------------------------------
// A raw blocking TCP client for byte-exact conversations (interim 100
// responses, slow senders, header smuggling). Every call is bounded.

class RawSocket {
 public:
  // `from`: connect from this local address (e.g. "127.0.0.2"); default 127.0.0.1.
  explicit RawSocket(std::uint16_t port, std::chrono::milliseconds timeout = std::chrono::seconds(5),
                     const char* from = nullptr);
  ~RawSocket();
  RawSocket(const RawSocket&) = delete;
  RawSocket& operator=(const RawSocket&) = delete;

  bool connected() const { return fd_ >= 0 && connected_; }
  bool send(const std::string& bytes);
  // Reads until `text` appears in what was received, the peer closes, or the
  // timeout passes; true when it appeared.
  bool read_until(const std::string& text, std::chrono::milliseconds timeout);
  // Reads until the peer closes (EOF or reset) or the timeout; true when closed.
  bool wait_closed(std::chrono::milliseconds timeout);
  const std::string& received() const { return received_; }
  bool peer_closed() const { return peer_closed_; }
  void close();

 private:
  // One bounded read; false on timeout. Sets peer_closed_ at EOF/error.
  bool read_some(std::chrono::steady_clock::time_point deadline);

  int fd_ = -1;
  bool connected_ = false;
  bool peer_closed_ = false;
  std::string received_;
};

// A TCP port on 127.0.0.1 where nothing listens (bound, then closed).
std::uint16_t closed_port();

// A listener on 127.0.0.1 that never accepts: the kernel completes up to
// `backlog` + 1 handshakes and buffers what is sent, and nothing is ever
// read or answered (an upstream that accepts and never answers). With
// `fill_backlog` one connection of its own takes the queue's only place
// (backlog 0), so the kernel drops later SYNs: a connect to it stays in
// progress until the connecting side gives up. Throws on failure.
class SilentListener {
 public:
  explicit SilentListener(int backlog = 64, bool fill_backlog = false);
  ~SilentListener();
  SilentListener(const SilentListener&) = delete;
  SilentListener& operator=(const SilentListener&) = delete;
  std::uint16_t port() const { return port_; }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1"; }

 private:
  int listener_ = -1, filler_ = -1;
  std::uint16_t port_ = 0;
};

// True when a TCP connection to 127.0.0.1:port is refused (or fails) within the timeout.
bool connection_refused(std::uint16_t port, std::chrono::milliseconds timeout = std::chrono::seconds(2));

// ---------------------------------------------------------------------------
// Small helpers shared by the tests.

using json = nlohmann::json;

// {"model": model, "messages": [{"role":"user","content": prompt}]} merged with `extra`.
std::string chat_body(const std::string& model, json extra = json::object(), const std::string& prompt = "hello");
// Whether /metrics on `port` shows the deployment (provider, model) cooling
// down within `timeout`: a 429 the test caused has reached the gateway.
bool wait_for_cooldown(uint16_t port, const std::string& provider, const std::string& model,
                       std::chrono::milliseconds timeout = std::chrono::seconds(5));
// The bytes of a POST /v1/chat/completions carrying `body`, for clients that
// send raw bytes (and then hang up, pipeline more, ...).
std::string raw_chat_post(const std::string& body, const std::string& host = "x");
// Parses JSON; a discarded value (is_discarded()) when it is not JSON.
json parse_json(const std::string& text);
// True for exactly 32 lower-case hex digits (a gateway-made request id).
bool is_hex32(const std::string& text);
// Decodes base64 of little-endian float32 values, independently of the gateway's codec.
std::vector<float> decode_base64_floats(const std::string& text);
// The data of events that are JSON objects with an "error" member.
bool is_error_event(const std::string& data);

}  // namespace sluice::test
