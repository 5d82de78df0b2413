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
  explicit RedisServer(Options options);  // starts it; throws std::runtime_error when it does not come up
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  int port() const { return port_; }
  const std::string& dir() const { return dir_; }
  std::string url() const;  // redis://127.0.0.1:<port> (rediss:// with tls)

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
  std::string dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

// A free TCP port on 127.0.0.1 (bound, read and released).
int free_loopback_port();

// The Redis every test may share: REDIS_URL when the test command set it,
// else a private server started once for the process.
std::string shared_redis_url();

}  // namespace sluice::test
