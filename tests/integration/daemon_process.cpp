// DaemonProcess: posix_spawn, a pipe for the output, bounded waits.
#include "daemon_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "support/canary.hpp"
#include "support/test_client.hpp"

extern char** environ;

namespace sluice::test {

using Clock = std::chrono::steady_clock;

#ifndef SLUICE_BINARY
#error "SLUICE_BINARY must name the built sluice executable"
#endif

DaemonProcess::DaemonProcess(std::vector<std::string> args) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  args.insert(args.begin(), SLUICE_BINARY);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDERR_FILENO);
  // The test process ignores SIGPIPE (as the gateway does) and may block
  // signals; the daemon starts with the defaults, as from a shell.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t defaults, none;
  sigemptyset(&defaults);
  for (int s : {SIGHUP, SIGINT, SIGTERM, SIGPIPE}) sigaddset(&defaults, s);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  const int rc = ::posix_spawn(&pid_, argv[0], &actions, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(fds[1]);
  out_fd_ = fds[0];
  if (rc != 0) {
    ::close(out_fd_);
    throw std::runtime_error(std::string("cannot start " SLUICE_BINARY ": ") + std::strerror(rc));
  }
  ::fcntl(out_fd_, F_SETFL, ::fcntl(out_fd_, F_GETFL) | O_NONBLOCK);
}

DaemonProcess::~DaemonProcess() {
  // A canary run reads /metrics as the test leaves the daemon (the response is
  // scanned), then scans all it wrote, up to its exit.
  if (canary_run() && !exited_ && port_ != 0) {
    (void)http_request(port_, "GET", "/metrics", {}, {}, std::chrono::seconds(3));
  }
  if (!exited_) {
    signal(SIGTERM);
    if (!wait_exit(std::chrono::seconds(5)) && !exited_) {
      ::kill(pid_, SIGKILL);
      reap(true);
    }
  }
  output();
  scan_for_canary("the daemon's stdout or stderr", output_);
  ::close(out_fd_);
}

void DaemonProcess::signal(int signo) {
  if (!exited_) ::kill(pid_, signo);
}

bool DaemonProcess::read_until(Clock::time_point deadline, const std::function<bool()>& done) {
  while (!done()) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    pollfd p{out_fd_, POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(std::max<long long>(left, 0)));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return true;  // the deadline passed
    char buf[4096];
    const ssize_t n = ::read(out_fd_, buf, sizeof buf);
    if (n > 0) {
      output_.append(buf, static_cast<std::size_t>(n));
    } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
      return false;  // every writer is gone: the process has ended
    }
  }
  return true;
}

std::string DaemonProcess::wait_for_line(std::string_view text, std::chrono::milliseconds timeout, std::size_t from) {
  std::string line;
  const auto find = [&] {
    for (std::size_t at = output_.find(text, from); at != std::string::npos; at = output_.find(text, at + 1)) {
      const std::size_t end = output_.find('\n', at);
      if (end == std::string::npos) return false;  // not whole yet
      const std::size_t start = output_.rfind('\n', at);
      const std::size_t begin = start == std::string::npos ? 0 : start + 1;
      if (begin < from) continue;
      line = output_.substr(begin, end - begin);
      return true;
    }
    return false;
  };
  read_until(Clock::now() + timeout, find);
  return line;
}

std::uint16_t DaemonProcess::wait_for_port(std::chrono::milliseconds timeout) {
  const std::string line = wait_for_line("\"event\":\"listening\"", timeout);
  const auto json = nlohmann::json::parse(line, nullptr, false);
  if (!json.is_object() || !json.contains("port") || !json["port"].is_number_unsigned()) return 0;
  port_ = json["port"].get<std::uint16_t>();
  return port_;
}

void DaemonProcess::reap(bool block) {
  int status = 0;
  if (::waitpid(pid_, &status, block ? 0 : WNOHANG) != pid_) return;
  exited_ = true;
  if (WIFEXITED(status)) exit_code_ = WEXITSTATUS(status);
}

std::optional<int> DaemonProcess::wait_exit(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  // The output ends when the process does; then it is reaped at once.
  read_until(deadline, [] { return false; });
  while (!exited_) {
    reap(false);
    if (exited_ || Clock::now() >= deadline) break;
    ::poll(nullptr, 0, 10);
  }
  return exit_code_;
}

const std::string& DaemonProcess::output() {
  read_until(Clock::now(), [] { return false; });
  return output_;
}

Finished run_sluice(std::vector<std::string> args, std::chrono::milliseconds timeout) {
  DaemonProcess process(std::move(args));
  Finished out;
  out.exit_code = process.wait_exit(timeout).value_or(-1);
  out.output = process.output();
  return out;
}

}  // namespace sluice::test
