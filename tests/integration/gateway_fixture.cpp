#include "gateway_fixture.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <gtest/gtest.h>

#include "sluice/app/app.hpp"
#include "sluice/core/log.hpp"
#include "support/canary.hpp"
#include "support/test_client.hpp"

namespace sluice::test {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

// ---------------------------------------------------------------------------
// ConfigBuilder

namespace {

std::string render_pairs(const YamlPairs& pairs, const std::string& indent) {
  std::string out;
  for (const auto& [key, value] : pairs) out += indent + key + ": " + value + "\n";
  return out;
}

// A canary run gives every provider a key (the mock too: it holds one like
// any other), so every request of the suite carries one the gateway must keep
// to itself.
void add_canary_key(const std::string& provider, YamlPairs& extra) {
  const bool has_key = std::any_of(extra.begin(), extra.end(), [](const auto& kv) { return kv.first == "api_key"; });
  if (canary_run() && !has_key) extra.emplace_back("api_key", test_secret("provider-" + provider));
}

}  // namespace

ConfigBuilder& ConfigBuilder::server(std::string key, std::string value) {
  server_.emplace_back(std::move(key), std::move(value));
  return *this;
}

ConfigBuilder& ConfigBuilder::openai_provider(std::string name, std::string base_url, YamlPairs extra) {
  return provider(std::move(name), "openai", std::move(base_url), std::move(extra));
}

ConfigBuilder& ConfigBuilder::provider(std::string name, std::string type, std::string base_url, YamlPairs extra) {
  std::string item = "  - name: " + name + "\n    type: " + type + "\n    base_url: \"" + base_url + "\"\n";
  add_canary_key(name, extra);
  item += render_pairs(extra, "    ");
  providers_.push_back(std::move(item));
  return *this;
}

ConfigBuilder& ConfigBuilder::mock_provider(std::string name, YamlPairs mock, YamlPairs extra) {
  add_canary_key(name, extra);
  std::string item = "  - name: " + name + "\n    type: mock\n";
  item += render_pairs(extra, "    ");
  if (!mock.empty()) item += "    mock:\n" + render_pairs(mock, "      ");
  providers_.push_back(std::move(item));
  return *this;
}

ConfigBuilder& ConfigBuilder::model(std::string name, std::vector<std::pair<std::string, std::string>> deployments) {
  std::string item = "  - name: \"" + name + "\"\n    deployments:\n";
  for (const auto& [provider, upstream] : deployments)
    item += "      - { provider: " + provider + ", model: \"" + upstream + "\" }\n";
  models_.push_back(std::move(item));
  return *this;
}

ConfigBuilder& ConfigBuilder::model_with(std::string name, std::vector<DeploymentYaml> deployments) {
  std::string item = "  - name: \"" + name + "\"\n    deployments:\n";
  for (const auto& d : deployments) {
    item += "      - provider: " + d.provider + "\n        model: \"" + d.model + "\"\n";
    item += render_pairs(d.extra, "        ");
  }
  models_.push_back(std::move(item));
  return *this;
}

ConfigBuilder& ConfigBuilder::queue(std::string key, std::string value) {
  queue_.emplace_back(std::move(key), std::move(value));
  return *this;
}

ConfigBuilder& ConfigBuilder::logging_level(std::string level) {
  logging_level_ = std::move(level);
  return *this;
}

std::string ConfigBuilder::yaml() const {
  std::string out = "server:\n  listen: \"127.0.0.1:0\"\n" + render_pairs(server_, "  ");
  out += "providers:\n";
  for (const auto& p : providers_) out += p;
  out += "models:\n";
  for (const auto& m : models_) out += m;
  if (!queue_.empty()) out += "queue:\n" + render_pairs(queue_, "  ");
  if (!logging_level_.empty()) out += "logging:\n  level: " + logging_level_ + "\n";
  return out;
}

std::string single_openai_yaml(const std::string& base_url, const std::string& model_name, YamlPairs provider_extra,
                               YamlPairs server) {
  ConfigBuilder b;
  for (auto& [k, v] : server) b.server(k, v);
  return b.openai_provider("up", base_url, std::move(provider_extra)).model(model_name, {{"up", model_name}}).yaml();
}

std::string mock_yaml(YamlPairs mock, YamlPairs server) {
  ConfigBuilder b;
  for (auto& [k, v] : server) b.server(k, v);
  return b.mock_provider("mock", std::move(mock))
      .model("gpt-4o-mini", {{"mock", "gpt-4o-mini"}})
      .model("gpt-4o", {{"mock", "gpt-4o"}})
      .model("text-embedding-3-small", {{"mock", "text-embedding-3-small"}})
      .yaml();
}

std::string log_line(const std::string& logs, std::string_view event, const std::string& request_id) {
  for (std::size_t at = logs.find(event); at != std::string::npos; at = logs.find(event, at + 1)) {
    const std::size_t start = logs.rfind('\n', at) + 1;  // npos + 1 == 0 on the first line
    const std::string line = logs.substr(start, logs.find('\n', at) - start);
    if (line.find(" request_id=" + request_id + " ") != std::string::npos) return line;
  }
  return {};
}

// ---------------------------------------------------------------------------
// Gateway

Gateway::Gateway(const std::string& yaml, GatewayOptions options) : options_(std::move(options)) {
  // As the daemon does: a write to a socket the peer closed is an error, not a signal.
  std::signal(SIGPIPE, SIG_IGN);

  // A canary run logs all the gateway has to say, whatever level the test
  // asked for: every line is scanned.
  std::string level = canary_run() ? "debug" : options_.log_level;
  if (level.empty()) {
    const char* env = std::getenv("SLUICE_TEST_LOG");
    level = env && *env ? env : "off";
  }
  LoggingConfig logging;
  logging.level = level;
  logging.format = LogFormat::text;
  log::init(logging);

  ConfigLoadResult loaded = load_config_text(yaml, "test.yaml");
  if (!loaded.config) {
    scan_for_canary("the configuration's problems", format_problems("test.yaml", loaded.problems));
    ADD_FAILURE() << "invalid gateway configuration:\n"
                  << format_problems("test.yaml", loaded.problems) << "--- YAML ---\n"
                  << yaml;
    return;
  }
  GatewayConfig config = std::move(*loaded.config);
  config.server.listen = "127.0.0.1:0";
  config_ = config;

  io_ = std::make_unique<asio::io_context>(1);
  try {
    app_ = std::make_unique<App>(*io_, std::move(config));
    app_->start();
    port_ = app_->port();
  } catch (const std::exception& e) {
    scan_for_canary("the reason the gateway did not start", e.what());
    ADD_FAILURE() << "gateway failed to start: " << e.what();
    app_.reset();
    io_.reset();
    return;
  }
  // Keeps run() going until stop() has destroyed the App.
  work_ = std::make_shared<asio::executor_work_guard<asio::io_context::executor_type>>(io_->get_executor());
  thread_ = std::thread([this] {
    io_->run();
    std::lock_guard lock(mutex_);
    loop_exited_ = true;
    changed_.notify_all();
  });
  started_ = true;
}

Gateway::~Gateway() { stop(); }

const GatewayConfig& Gateway::config() const {
  if (!config_) throw std::logic_error("gateway not configured");
  return *config_;
}

void Gateway::begin_shutdown() {
  if (!started_) return;
  {
    std::lock_guard lock(mutex_);
    if (shutdown_begun_) return;
    shutdown_begun_ = true;
    shutdown_started_at_ = Clock::now();
  }
  asio::post(*io_, [this] {
    app_->shutdown([this] {
      std::lock_guard lock(mutex_);
      shutdown_done_ = true;
      shutdown_done_at_ = Clock::now();
      changed_.notify_all();
    });
  });
}

bool Gateway::wait_shutdown(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [this] { return shutdown_done_; });
}

bool Gateway::shutdown_done() const {
  std::lock_guard lock(mutex_);
  return shutdown_done_;
}

Clock::time_point Gateway::shutdown_started_at() const {
  std::lock_guard lock(mutex_);
  return shutdown_started_at_;
}

Clock::time_point Gateway::shutdown_done_at() const {
  std::lock_guard lock(mutex_);
  return shutdown_done_at_;
}

bool Gateway::run_on_loop(std::function<void()> fn, std::chrono::milliseconds timeout) {
  if (!started_) return false;
  auto state = std::make_shared<std::pair<std::mutex, std::condition_variable>>();
  auto done = std::make_shared<bool>(false);
  asio::post(*io_, [fn = std::move(fn), state, done] {
    fn();
    std::lock_guard lock(state->first);
    *done = true;
    state->second.notify_all();
  });
  std::unique_lock lock(state->first);
  return state->second.wait_for(lock, timeout, [&] { return *done; });
}

void Gateway::stop() {
  if (!started_ || stopped_) return;
  stopped_ = true;
  // A canary run reads /metrics as the test leaves it (the response is scanned
  // as every response is), not once shut down. Over TLS without checking the
  // certificate; a gateway that demands a client certificate refuses it.
  if (canary_run() && !shutdown_begun_) {
    if (config_->server.tls) {
      Connection tls(port_, TlsClientOptions{.verify = false}, std::chrono::seconds(3));
      (void)tls.request("GET", "/metrics");
    } else {
      (void)http_request(port_, "GET", "/metrics", {}, {}, std::chrono::seconds(3));
    }
  }
  begin_shutdown();
  if (!wait_shutdown(options_.shutdown_timeout)) {
    ADD_FAILURE() << "gateway shutdown did not complete within " << options_.shutdown_timeout.count() << " ms";
    // Sessions are still suspended on the loop and reference the App: stop the
    // loop and leak both rather than destroy them under those coroutines.
    io_->stop();
    thread_.join();
    (void)app_.release();
    (void)io_.release();
    return;
  }
  // Destroy the App on its own loop (its sockets belong to it), then let the
  // loop run out of work: anything still pending after that is work the App
  // left behind.
  asio::post(*io_, [this] {
    app_.reset();
    work_.reset();
  });
  {
    std::unique_lock lock(mutex_);
    if (!changed_.wait_for(lock, std::chrono::seconds(5), [this] { return loop_exited_; })) {
      lock.unlock();
      ADD_FAILURE() << "gateway loop still had work 5 s after the App was destroyed";
      io_->stop();
    }
  }
  thread_.join();
  io_.reset();
}

// ---------------------------------------------------------------------------
// RawSocket

namespace {

int wait_ms(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(left);
}

// Non-blocking connect to 127.0.0.1:port, bounded. Returns the fd (blocking
// mode off) or -1; `refused` tells a refused connection from a timeout.
// `from`: the local address to connect from (another loopback address such as 127.0.0.2).
int connect_loopback(std::uint16_t port, std::chrono::milliseconds timeout, bool* refused = nullptr,
                     const char* from = nullptr) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (from) {
    sockaddr_in local{};
    local.sin_family = AF_INET;
    if (::inet_pton(AF_INET, from, &local.sin_addr) != 1 ||
        ::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
      ::close(fd);
      return -1;
    }
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  if (rc != 0 && errno == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    rc = ::poll(&p, 1, static_cast<int>(timeout.count()));
    if (rc == 1) {
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      rc = err == 0 ? 0 : -1;
      errno = err;
    } else {
      rc = -1;
      errno = ETIMEDOUT;
    }
  }
  if (rc != 0) {
    if (refused) *refused = errno == ECONNREFUSED;
    ::close(fd);
    return -1;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

}  // namespace

RawSocket::RawSocket(std::uint16_t port, std::chrono::milliseconds timeout, const char* from) {
  fd_ = connect_loopback(port, timeout, nullptr, from);
  connected_ = fd_ >= 0;
}

RawSocket::~RawSocket() {
  close();
  scan_for_canary("the bytes a raw client received", received_);
}

bool RawSocket::send(const std::string& bytes) {
  if (fd_ < 0) return false;
  std::size_t sent = 0;
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  while (sent < bytes.size()) {
    const ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{fd_, POLLOUT, 0};
      if (::poll(&p, 1, wait_ms(deadline)) != 1) return false;
      continue;
    }
    return false;
  }
  return true;
}

bool RawSocket::read_some(Clock::time_point deadline) {
  if (fd_ < 0 || peer_closed_) return false;
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, wait_ms(deadline)) != 1) return false;
  char buf[16384];
  const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
  if (n > 0) {
    received_.append(buf, static_cast<std::size_t>(n));
    return true;
  }
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
  peer_closed_ = true;  // EOF or reset
  return true;
}

bool RawSocket::read_until(const std::string& text, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (received_.find(text) == std::string::npos) {
    if (peer_closed_ || !read_some(deadline)) return received_.find(text) != std::string::npos;
  }
  return true;
}

bool RawSocket::wait_closed(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!peer_closed_) {
    if (!read_some(deadline)) return peer_closed_;
  }
  return true;
}

void RawSocket::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

std::uint16_t closed_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("socket() failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = 0;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("bind() failed");
  }
  ::close(fd);  // never listened: connections to it are refused
  return ntohs(addr.sin_port);
}

SilentListener::SilentListener(int backlog, bool fill_backlog) {
  listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (listener_ < 0 || ::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listener_, fill_backlog ? 0 : backlog) != 0 ||
      ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    if (listener_ >= 0) ::close(listener_);
    throw std::runtime_error("silent listener: cannot listen");
  }
  port_ = ntohs(addr.sin_port);
  if (!fill_backlog) return;
  filler_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (filler_ < 0 || ::connect(filler_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (filler_ >= 0) ::close(filler_);
    ::close(listener_);
    throw std::runtime_error("silent listener: cannot fill the accept queue");
  }
}

SilentListener::~SilentListener() {
  if (filler_ >= 0) ::close(filler_);
  ::close(listener_);
}

bool connection_refused(std::uint16_t port, std::chrono::milliseconds timeout) {
  bool refused = false;
  const int fd = connect_loopback(port, timeout, &refused);
  if (fd >= 0) {
    ::close(fd);
    return false;
  }
  return true;
}

// ---------------------------------------------------------------------------

std::string chat_body(const std::string& model, json extra, const std::string& prompt) {
  json body = {{"model", model}, {"messages", json::array({{{"role", "user"}, {"content", prompt}}})}};
  if (extra.is_object()) body.update(extra);
  return body.dump();
}

bool wait_for_cooldown(uint16_t port, const std::string& provider, const std::string& model,
                       std::chrono::milliseconds timeout) {
  const std::string series =
      "\nsluice_deployment_cooldown_seconds{provider=\"" + provider + "\",model=\"" + model + "\"} ";
  for (const auto until = std::chrono::steady_clock::now() + timeout; std::chrono::steady_clock::now() < until;
       std::this_thread::sleep_for(std::chrono::milliseconds(10))) {
    const std::string metrics = http_request(port, "GET", "/metrics").body;
    const std::size_t at = metrics.find(series);
    if (at != std::string::npos && std::stod(metrics.substr(at + series.size())) > 0) return true;
  }
  return false;
}

std::string raw_chat_post(const std::string& body, const std::string& host) {
  return "POST /v1/chat/completions HTTP/1.1\r\nHost: " + host + "\r\nContent-Type: application/json\r\n"
         "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

json parse_json(const std::string& text) { return json::parse(text, nullptr, /*allow_exceptions=*/false); }

bool is_hex32(const std::string& text) {
  if (text.size() != 32) return false;
  for (char c : text)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

std::vector<float> decode_base64_floats(const std::string& text) {
  static const std::string kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string bytes;
  std::uint32_t bits = 0;
  int count = 0;
  for (char c : text) {
    if (c == '=') break;
    const auto pos = kAlphabet.find(c);
    if (pos == std::string::npos) return {};
    bits = (bits << 6) | static_cast<std::uint32_t>(pos);
    if ((count += 6) >= 8) bytes += static_cast<char>((bits >> (count -= 8)) & 0xff);
  }
  std::vector<float> out;
  for (std::size_t i = 0; i + 4 <= bytes.size(); i += 4) {
    std::uint32_t word = 0;
    for (int b = 3; b >= 0; --b) word = (word << 8) | static_cast<std::uint8_t>(bytes[i + b]);
    float f;
    static_assert(sizeof f == sizeof word);
    std::memcpy(&f, &word, sizeof f);
    out.push_back(f);
  }
  return out;
}

bool is_error_event(const std::string& data) {
  const json j = parse_json(data);
  return j.is_object() && j.contains("error") && j["error"].is_object();
}

}  // namespace sluice::test
