// Real Redis for tests: a private redis-server per test (one that a test may
// kill and start again, give a password or TLS), and the shared one the test
// command starts (REDIS_URL).
//
// redis-server must be installed (scripts/test.sh and CI install it): when it
// is not, starting one throws and the test fails, loudly. Nothing skips.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace sluice::test {

// redis-server on 127.0.0.1 and a free port, without persistence, in a
// temporary directory of its own (which also holds its log). The destructor
// kills it and removes the directory.
class RedisServer {
 public:
  struct Options {
    std::vector<std::string> args;  // more redis-server options, e.g. {"--requirepass", "pw"}
    // The port serves TLS (--tls-port) and the plain port is off; `args`
    // must name --tls-cert-file, --tls-key-file and --tls-ca-cert-file.
    bool tls = false;
  };

  RedisServer() : RedisServer(Options{}) {}
  // Starts it; throws std::runtime_error when it does not come up. In a canary
  // run (canary.hpp) it requires a password, test_secret("redis"), unless
  // `args` set one: url() carries it, as a deployment's redis.url would.
  explicit RedisServer(Options options);
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  int port() const { return port_; }
  const std::string& dir() const { return dir_; }
  std::string url() const;  // redis://[:password@]127.0.0.1:<port> (rediss:// with tls)
  // The password it requires, when the canary run gave it one; else empty.
  const std::string& password() const { return password_; }

  // SIGKILL, like a crash: no goodbye to clients. Waits until it is gone.
  void kill();
  // Starts it again, on the same port with the same options.
  void start();
  // SIGSTOP / SIGCONT: a server that hangs (connections stay open, nothing
  // is answered) and then carries on where it stopped.
  void pause();
  void resume();
  bool running() const { return pid_ > 0; }

 private:
  Options options_;
  std::string password_;
  std::string dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

// A free TCP port on 127.0.0.1 (bound, read and released).
int free_loopback_port();

// The Redis every test may share: REDIS_URL when the test command set it,
// else a private server started once for the process (always in a canary
// run, where it requires a password).
std::string shared_redis_url();

}  // namespace sluice::test
