// Structured logging: one line per event, a stable snake_case event name and
// key=value fields, rendered as JSON lines (production) or logfmt (text).
// Never pass prompts, completions or keys as field values: log sizes and ids.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include <spdlog/common.h>

#include "sluice/core/config.hpp"

namespace sluice::log {

// A field value: text, integer, floating point (3 decimals unless told),
// boolean, or null (a value that is not known: std::nullopt).
struct Field {
  enum class Kind { text, integer, unsigned_integer, real, boolean, null };

  Field(std::string_view k, std::string_view v) : key(k), kind(Kind::text), text(v) {}
  Field(std::string_view k, const char* v) : key(k), kind(Kind::text), text(v) {}
  Field(std::string_view k, const std::string& v) : key(k), kind(Kind::text), text(v) {}
  Field(std::string_view k, bool v) : key(k), kind(Kind::boolean), boolean(v) {}
  Field(std::string_view k, double v, int decimals = 3) : key(k), kind(Kind::real), decimals(decimals), real(v) {}
  Field(std::string_view k, std::nullopt_t) : key(k), kind(Kind::null), integer(0) {}
  template <class I, std::enable_if_t<std::is_integral_v<I> && !std::is_same_v<I, bool>, int> = 0>
  Field(std::string_view k, I v) : key(k) {
    if constexpr (std::is_signed_v<I>) { kind = Kind::integer; integer = v; }
    else { kind = Kind::unsigned_integer; unsigned_integer = v; }
  }

  std::string_view key;
  Kind kind;
  int decimals = 3;  // of a real, 0 .. 9
  std::string_view text;
  union {
    std::int64_t integer;
    std::uint64_t unsigned_integer;
    double real;
    bool boolean;
  };
};

// Configures the process-wide logger (stdout). Safe to call again on reload.
// Lines are buffered (up to 64 KiB) and written in batches: when the buffer is
// full, by spdlog's flusher thread every second, at once for warn and above,
// and by flush(), which init() also registers to run at exit().
void init(const LoggingConfig& config);

// Formats and writes one event if `level` is enabled. Safe from any thread:
// each line reaches stdout whole, in the order the calls took the buffer.
void write(spdlog::level::level_enum level, std::string_view event, std::initializer_list<Field> fields);

// Writes every line logged so far to stdout before returning. The daemon calls
// it before spdlog::shutdown(); it is also registered with atexit().
void flush();

bool enabled(spdlog::level::level_enum level);

inline void debug(std::string_view e, std::initializer_list<Field> f = {}) { write(spdlog::level::debug, e, f); }
inline void info(std::string_view e, std::initializer_list<Field> f = {}) { write(spdlog::level::info, e, f); }
inline void warn(std::string_view e, std::initializer_list<Field> f = {}) { write(spdlog::level::warn, e, f); }
inline void error(std::string_view e, std::initializer_list<Field> f = {}) { write(spdlog::level::err, e, f); }

// Renders the event and fields without the timestamp/level prefix; exposed for tests.
std::string render(LogFormat format, std::string_view event, std::initializer_list<Field> fields);

// Appends one whole line to `out`, as write() emits it: JSON
// `{"ts":"2026-11-21T10:23:45.123456Z","level":"info","event":...}` or text
// `2026-11-21T10:23:45.123456Z info event k=v`, ending in '\n'. The same bytes
// as spdlog's pattern formatter made before (UTC, microseconds); exposed for tests.
void format_line(std::string& out, LogFormat format, spdlog::level::level_enum level,
                 std::chrono::system_clock::time_point time, std::string_view event,
                 std::initializer_list<Field> fields);

// Collects whole lines and writes them to a file descriptor in batches: one
// write(2) when the next line would not fit in `capacity` (or a line alone
// fills it), and on flush(). Thread-safe; the thread that ends a batch writes
// it, outside the lock, while further lines collect in a second buffer, so
// other appenders wait only if that one fills too. Batches are written in
// order and never overlap, so lines are never torn or interleaved. Write
// errors drop the batch (there is nowhere to report them); EINTR, EAGAIN and
// short writes are retried. The destructor flushes.
class LineWriter {
 public:
  static constexpr std::size_t kDefaultCapacity = 64 * 1024;

  explicit LineWriter(int fd, std::size_t capacity = kDefaultCapacity);
  ~LineWriter();
  LineWriter(const LineWriter&) = delete;
  LineWriter& operator=(const LineWriter&) = delete;

  // `line` must be whole (end in '\n'); with `flush_now` it is written before return.
  void append(std::string_view line, bool flush_now = false);
  // Writes everything appended before the call.
  void flush();

 private:
  void write_batch(std::unique_lock<std::mutex>& lock);

  const int fd_;
  const std::size_t capacity_;
  std::mutex mutex_;
  std::condition_variable idle_;  // signalled when an out-of-lock write ends
  std::string pending_;           // lines not yet handed to write(2)
  std::string writing_;           // the batch being written, outside the lock
  bool busy_ = false;             // a thread is writing `writing_`
};

}  // namespace sluice::log
