// Capturing what the process writes to stdout, where the logger writes: for
// tests in which a log line is the behaviour (log_test, and integration tests
// that check what reaches the log and what does not).
//
//   std::string lines;
//   {
//     StdoutCapture capture;
//     ... make the gateway log ...
//     lines = capture.contents();  // flushes the logger first
//   }
//   EXPECT_NE(lines.find("upstream_credentials_refused"), npos);
//
// Assert after the capture has ended: GoogleTest prints failures to stdout,
// and inside the capture they would land in the file instead of the test log.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "sluice/core/log.hpp"
#include "support/canary.hpp"

namespace sluice::test {

// A temporary file, removed with the object.
class TempFile {
 public:
  TempFile() {
    std::string tmpl = ::testing::TempDir() + "sluice_test.XXXXXX";
    fd_ = ::mkstemp(tmpl.data());
    path_ = tmpl;
  }
  ~TempFile() {
    ::close(fd_);
    ::unlink(path_.c_str());
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  int fd() const { return fd_; }
  const std::string& path() const { return path_; }
  std::string contents() const {
    std::ifstream in(path_, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
  }

 private:
  int fd_ = -1;
  std::string path_;
};

// Points stdout at `fd` for the lifetime of the object.
class StdoutTo {
 public:
  explicit StdoutTo(int fd) : saved_(::dup(STDOUT_FILENO)) {
    std::fflush(stdout);
    ::dup2(fd, STDOUT_FILENO);
  }
  ~StdoutTo() {
    std::fflush(stdout);
    ::dup2(saved_, STDOUT_FILENO);
    ::close(saved_);
  }
  StdoutTo(const StdoutTo&) = delete;
  StdoutTo& operator=(const StdoutTo&) = delete;

 private:
  int saved_;
};

// stdout into a temporary file while the object lives. Lines the logger
// buffered before the capture began are flushed to the real stdout first.
class StdoutCapture {
 public:
  StdoutCapture() : redirect_((log::flush(), file_.fd())) {}
  // What it took is the gateway's log too: a canary run scans it (canary.hpp).
  ~StdoutCapture() { scan_for_canary("the gateway's log (a test's capture of stdout)", contents()); }
  StdoutCapture(const StdoutCapture&) = delete;
  StdoutCapture& operator=(const StdoutCapture&) = delete;
  // Everything logged so far during the capture.
  std::string contents() {
    log::flush();
    return file_.contents();
  }

  // The first captured line that contains every one of `parts`, waiting
  // (bounded) for the gateway to write it; "" when none came in time.
  std::string wait_for_line(const std::vector<std::string>& parts, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    do {
      std::istringstream lines(contents());
      for (std::string line; std::getline(lines, line);) {
        bool all = true;
        for (const auto& p : parts) all = all && line.find(p) != std::string::npos;
        if (all) return line;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    } while (std::chrono::steady_clock::now() < deadline);
    return {};
  }

 private:
  TempFile file_;
  StdoutTo redirect_;
};

}  // namespace sluice::test
