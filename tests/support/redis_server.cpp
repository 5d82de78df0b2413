// RedisServer: redis-server processes for tests (see redis_server.hpp).
#include "support/redis_server.hpp"

#include <algorithm>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "support/canary.hpp"

namespace sluice::test {

namespace {

sockaddr_in loopback(int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

bool accepts_connections(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  const sockaddr_in addr = loopback(port);
  const bool ok = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

int free_loopback_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr = loopback(0);
  socklen_t size = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &size) != 0) {
    ::close(fd);
    throw std::runtime_error("no free loopback port");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

RedisServer::RedisServer(Options options) : options_(std::move(options)) {
  const bool has_password =
      std::find(options_.args.begin(), options_.args.end(), "--requirepass") != options_.args.end();
  if (canary_run() && !has_password) {
    password_ = test_secret("redis");
    options_.args.insert(options_.args.end(), {"--requirepass", password_});
  }
  std::string tmpl = (std::filesystem::temp_directory_path() / "sluice-redis-XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("cannot create a directory for redis-server");
  dir_ = tmpl;
  port_ = free_loopback_port();
  start();
}

RedisServer::~RedisServer() {
  kill();
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

std::string RedisServer::url() const {
  const std::string auth = password_.empty() ? "" : ":" + password_ + "@";
  return std::string(options_.tls ? "rediss" : "redis") + "://" + auth + "127.0.0.1:" + std::to_string(port_);
}

void RedisServer::start() {
  if (running()) return;
  const std::string port = std::to_string(port_);
  std::vector<std::string> args = {"redis-server", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                                   "--dir", dir_, "--daemonize", "no", "--loglevel", "warning"};
  if (options_.tls) args.insert(args.end(), {"--port", "0", "--tls-port", port});
  else args.insert(args.end(), {"--port", port});
  args.insert(args.end(), options_.args.begin(), options_.args.end());
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);

  const std::string log = dir_ + "/redis.log";
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error(std::string("cannot fork: ") + std::strerror(errno));
  if (pid_ == 0) {
    // Gone with the test process, however that ends (a crash, ctest's timeout).
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      ::dup2(fd, STDOUT_FILENO);
      ::dup2(fd, STDERR_FILENO);
    }
    ::execvp("redis-server", argv.data());
    const char* message = "cannot run redis-server: is it installed? (apt-get install redis-server)\n";
    [[maybe_unused]] auto ignored = ::write(STDERR_FILENO, message, std::strlen(message));
    ::_exit(127);
  }
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!accepts_connections(port_)) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("redis-server exited at start (is it installed? apt-get install redis-server): " +
                               read_file(log));
    }
    if (std::chrono::steady_clock::now() > give_up) {
      kill();
      throw std::runtime_error("redis-server did not listen on port " + port + " within 10 s: " + read_file(log));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

void RedisServer::kill() {
  if (!running()) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

void RedisServer::pause() {
  if (running()) ::kill(pid_, SIGSTOP);
}

void RedisServer::resume() {
  if (running()) ::kill(pid_, SIGCONT);
}

std::string shared_redis_url() {
  const char* url = std::getenv("REDIS_URL");
  if (url && *url && !canary_run()) return url;
  static RedisServer server;  // killed at exit
  return server.url();
}

}  // namespace sluice::test
