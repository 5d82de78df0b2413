// DaemonProcess: the built sluice binary as a child process, for what only a
// process shows: signals (SIGHUP, SIGTERM), the command line, exit codes.
//
//   DaemonProcess daemon({"--config", path});
//   const std::uint16_t port = daemon.wait_for_port();
//   daemon.signal(SIGHUP);
//   EXPECT_FALSE(daemon.wait_for_line("tls_reloaded").empty());
//
// Its stdout and stderr (merged) are read by the calling thread while it
// waits. Every wait is bounded; the destructor sends SIGTERM, then SIGKILL
// after 5 s, and reaps the process.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::test {

class DaemonProcess {
 public:
  // Starts the sluice binary with `args`; throws std::runtime_error when it
  // cannot be started.
  explicit DaemonProcess(std::vector<std::string> args);
  ~DaemonProcess();
  DaemonProcess(const DaemonProcess&) = delete;
  DaemonProcess& operator=(const DaemonProcess&) = delete;

  // The first whole output line at or after byte `from` that contains
  // `text`; "" when none came within the timeout (or the process ended).
  std::string wait_for_line(std::string_view text, std::chrono::milliseconds timeout = std::chrono::seconds(5),
                            std::size_t from = 0);
  // The port of the JSON `listening` line; 0 when none came in time.
  std::uint16_t wait_for_port(std::chrono::milliseconds timeout = std::chrono::seconds(10));

  void signal(int signo);
  pid_t pid() const noexcept { return pid_; }
  // The exit code once the process has exited, within the timeout; nullopt
  // if it is still running or a signal ended it.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout = std::chrono::seconds(5));

  // Everything it wrote so far (reads what is pending first).
  const std::string& output();

 private:
  // Reads output until `done` or the deadline; false when the output ended.
  bool read_until(std::chrono::steady_clock::time_point deadline, const std::function<bool()>& done);
  void reap(bool block);

  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::uint16_t port_ = 0;  // from wait_for_port
  std::string output_;
  bool exited_ = false;
  std::optional<int> exit_code_;
};

// Runs `sluice <args>` to its end (bounded): the exit code (-1 when it did not
// exit by itself in time) and everything it printed.
struct Finished {
  int exit_code = -1;
  std::string output;
};
Finished run_sluice(std::vector<std::string> args, std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace sluice::test
