// The event formatter and the stdout line buffer behind sluice::log.
//
// An access line is written per request on the event-loop thread, so its cost
// is request latency. write() therefore formats the whole line once, into a
// reused per-thread string, with a timestamp whose date and time are cached
// per second, and appends it to a 64 KiB LineWriter; write(2) happens once per
// batch. Going through spdlog::log() instead rendered the fields into a fresh
// std::string, copied it into a log_msg and ran the pattern formatter over it
// (bench/log_bench.cpp measured the difference; docs/benchmarks.md, "Access log
// cost"). spdlog keeps the level, the once-a-second flusher thread and a sink
// on the same buffer for anything logged through spdlog directly.
#include "sluice/core/log.hpp"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/sink.h>
#include <spdlog/spdlog.h>

#include "sluice/core/json_text.hpp"

namespace sluice::log {
namespace {

// --- rendering -------------------------------------------------------------
//
// Lines are written through a raw cursor into room reserved up front
// (render_bound, line_bound), which spares a capacity check per piece.

constexpr std::size_t kNumberBound = 24;  // "-9223372036854775808"
constexpr std::size_t kRealBound = 330;   // fixed notation of the largest double, 9 decimals
constexpr std::size_t kPrefixBound = 80;  // {"ts":"...","level":"critical", and "}\n"

char* put(char* p, std::string_view s) {
  if (s.empty()) return p;  // an empty view may hold a null pointer, which memcpy may not take
  std::memcpy(p, s.data(), s.size());
  return p + s.size();
}

// Whether a JSON string needs escaping: any '"', '\\' or byte < 0x20. Eight
// bytes at a time; keys and most values are plain.
bool needs_escape(std::string_view v) {
  constexpr std::uint64_t kOnes = 0x0101010101010101ull, kHighs = 0x8080808080808080ull;
  const char* s = v.data();
  std::size_t n = v.size();
  for (; n >= 8; s += 8, n -= 8) {
    std::uint64_t w;
    std::memcpy(&w, s, 8);
    const std::uint64_t quote = w ^ (kOnes * '"'), slash = w ^ (kOnes * '\\');
    const std::uint64_t hits =
        ((w - kOnes * 0x20) & ~w) | ((quote - kOnes) & ~quote) | ((slash - kOnes) & ~slash);
    if (hits & kHighs) return true;
  }
  for (; n > 0; ++s, --n)
    if (*s == '"' || *s == '\\' || static_cast<unsigned char>(*s) < 0x20) return true;
  return false;
}

char* put_json_text(char* p, std::string_view v) {
  if (needs_escape(v)) {
    thread_local std::string escaped;  // rare: reuse the one escaper
    escaped.clear();
    append_json_string(escaped, v);
    return put(p, escaped);
  }
  *p++ = '"';
  p = put(p, v);
  *p++ = '"';
  return p;
}

char* put_text_value(char* p, std::string_view v) {
  // logfmt: quote when the value has a space, quote or '='; escape like JSON.
  bool plain = !v.empty();
  for (char c : v)
    if (c == ' ' || c == '"' || c == '=' || static_cast<unsigned char>(c) < 0x20) plain = false;
  if (plain) return put(p, v);
  return put_json_text(p, v);
}

// Integers with to_chars; reals as fmt's "{:.3f}" did (same bytes, checked
// over ties, NaN and infinities), without parsing a format string per value.
char* put_value(char* p, LogFormat format, const Field& f) {
  switch (f.kind) {
    case Field::Kind::text: return format == LogFormat::json ? put_json_text(p, f.text) : put_text_value(p, f.text);
    case Field::Kind::integer: return std::to_chars(p, p + kNumberBound, f.integer).ptr;
    case Field::Kind::unsigned_integer: return std::to_chars(p, p + kNumberBound, f.unsigned_integer).ptr;
    case Field::Kind::real:
      return std::to_chars(p, p + kRealBound, f.real, std::chars_format::fixed, std::clamp(f.decimals, 0, 9)).ptr;
    case Field::Kind::boolean: return put(p, f.boolean ? "true" : "false");
    case Field::Kind::null: return put(p, "null");
  }
  return p;
}

// Enough room for render_to's output, whatever the field values hold: an
// escaped byte takes at most 6 ("\\u001f"), plus quotes and separators.
std::size_t render_bound(std::string_view event, std::initializer_list<Field> fields) {
  std::size_t n = 16 + 6 * event.size();
  for (const Field& f : fields) {
    n += 8 + 6 * f.key.size();
    n += f.kind == Field::Kind::text ? 6 * f.text.size() : f.kind == Field::Kind::real ? kRealBound : kNumberBound;
  }
  return n;
}

char* render_to(char* p, LogFormat format, std::string_view event, std::initializer_list<Field> fields) {
  if (format == LogFormat::json) {
    p = put(p, R"("event":)");
    p = put_json_text(p, event);
    for (const Field& f : fields) {
      *p++ = ',';
      p = put_json_text(p, f.key);
      *p++ = ':';
      p = put_value(p, format, f);
    }
  } else {
    p = put(p, event);
    for (const Field& f : fields) {
      *p++ = ' ';
      p = put(p, f.key);
      *p++ = '=';
      p = put_value(p, format, f);
    }
  }
  return p;
}

// --- timestamp and whole line --------------------------------------------------

void put_2(char* p, int v) {
  p[0] = static_cast<char>('0' + v / 10);
  p[1] = static_cast<char>('0' + v % 10);
}

// "%Y-%m-%dT%H:%M:%S.%fZ" in UTC as spdlog renders it: the part up to the
// seconds changes once a second, so each thread keeps it and only the
// microseconds are formatted per line.
char* put_timestamp(char* out, std::chrono::system_clock::time_point time) {
  using namespace std::chrono;
  struct Cache {
    std::time_t second = -1;
    char text[32];
    std::size_t size = 0;
  };
  thread_local Cache cache;
  const std::time_t second = system_clock::to_time_t(time);
  if (second != cache.second) {
    std::tm tm{};
    ::gmtime_r(&second, &tm);
    char* p = std::to_chars(cache.text, cache.text + 12, tm.tm_year + 1900).ptr;
    *p++ = '-';
    put_2(p, tm.tm_mon + 1);
    p[2] = '-';
    put_2(p + 3, tm.tm_mday);
    p[5] = 'T';
    put_2(p + 6, tm.tm_hour);
    p[8] = ':';
    put_2(p + 9, tm.tm_min);
    p[11] = ':';
    put_2(p + 12, tm.tm_sec);
    p[14] = '.';
    cache.size = static_cast<std::size_t>(p + 15 - cache.text);
    cache.second = second;
  }
  out = put(out, {cache.text, cache.size});
  const auto since_epoch = time.time_since_epoch();
  auto micros = duration_cast<microseconds>(since_epoch - duration_cast<seconds>(since_epoch)).count();
  for (int i = 5; i >= 0; --i, micros /= 10) out[i] = static_cast<char>('0' + micros % 10);
  out[6] = 'Z';
  return out + 7;
}

std::string_view level_name(spdlog::level::level_enum level) {
  const auto& name = spdlog::level::to_string_view(level);
  return {name.data(), name.size()};
}

std::size_t line_bound(std::string_view event, std::initializer_list<Field> fields) {
  return kPrefixBound + render_bound(event, fields);
}

// Writes the line at `p`, which has line_bound() bytes of room.
char* put_line(char* p, LogFormat format, spdlog::level::level_enum level, std::chrono::system_clock::time_point time,
               std::string_view event, std::initializer_list<Field> fields) {
  if (format == LogFormat::json) {
    p = put(p, R"({"ts":")");
    p = put_timestamp(p, time);
    p = put(p, R"(","level":")");
    p = put(p, level_name(level));
    p = put(p, R"(",)");
    p = render_to(p, format, event, fields);
    p = put(p, "}\n");
  } else {
    p = put_timestamp(p, time);
    *p++ = ' ';
    p = put(p, level_name(level));
    *p++ = ' ';
    p = render_to(p, format, event, fields);
    *p++ = '\n';
  }
  return p;
}

// --- stdout --------------------------------------------------------------------

// Never destroyed: spdlog's flusher thread and atexit() may flush it during
// static destruction, in an order no static object could be sure to outlive.
LineWriter& stdout_writer() {
  static LineWriter* writer = new LineWriter(STDOUT_FILENO);
  return *writer;
}

// Lines that arrive through spdlog itself (not log::write) land in the same
// buffer, formatted by the logger's pattern.
class LineWriterSink final : public spdlog::sinks::sink {
 public:
  explicit LineWriterSink(LineWriter& writer) : writer_(writer) {}

  void log(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t formatted;
    {
      std::lock_guard lock(mutex_);
      formatter_->format(msg, formatted);
    }
    writer_.append({formatted.data(), formatted.size()});
  }
  void flush() override { writer_.flush(); }
  void set_pattern(const std::string& pattern) override {
    set_formatter(std::make_unique<spdlog::pattern_formatter>(pattern));
  }
  void set_formatter(std::unique_ptr<spdlog::formatter> formatter) override {
    std::lock_guard lock(mutex_);
    formatter_ = std::move(formatter);
  }

 private:
  LineWriter& writer_;
  std::mutex mutex_;  // the formatter is not thread-safe
  std::unique_ptr<spdlog::formatter> formatter_ = std::make_unique<spdlog::pattern_formatter>();
};

LogFormat g_format = LogFormat::json;

void write_all(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n > 0) {
      data += n;
      size -= static_cast<std::size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{fd, POLLOUT, 0};  // stdout inherited non-blocking: wait, as a blocking write would
      ::poll(&p, 1, -1);
    } else {
      return;  // EPIPE, EBADF, ENOSPC...: the batch is lost either way
    }
  }
}

}  // namespace

// --- LineWriter ------------------------------------------------------------------

LineWriter::LineWriter(int fd, std::size_t capacity) : fd_(fd), capacity_(capacity) {
  pending_.reserve(capacity_);
  writing_.reserve(capacity_);
}

LineWriter::~LineWriter() { flush(); }

void LineWriter::append(std::string_view line, bool flush_now) {
  std::unique_lock lock(mutex_);
  if (!pending_.empty() && pending_.size() + line.size() > capacity_) write_batch(lock);
  pending_ += line;
  if (flush_now || pending_.size() >= capacity_) write_batch(lock);
}

void LineWriter::flush() {
  std::unique_lock lock(mutex_);
  write_batch(lock);
}

// Hands `pending_` to write(2) outside the lock. Batches leave in the order
// they were taken because a new one waits until the previous write ended; so
// on return, everything appended before the call has been written.
void LineWriter::write_batch(std::unique_lock<std::mutex>& lock) {
  idle_.wait(lock, [this] { return !busy_; });
  if (pending_.empty()) return;
  pending_.swap(writing_);
  busy_ = true;
  lock.unlock();
  write_all(fd_, writing_.data(), writing_.size());
  writing_.clear();
  lock.lock();
  busy_ = false;
  idle_.notify_all();
}

// --- public API ------------------------------------------------------------------

std::string render(LogFormat format, std::string_view event, std::initializer_list<Field> fields) {
  std::string out(render_bound(event, fields), '\0');
  out.resize(static_cast<std::size_t>(render_to(out.data(), format, event, fields) - out.data()));
  return out;
}

void format_line(std::string& out, LogFormat format, spdlog::level::level_enum level,
                 std::chrono::system_clock::time_point time, std::string_view event,
                 std::initializer_list<Field> fields) {
  const std::size_t start = out.size();
  out.resize(start + line_bound(event, fields));
  char* end = put_line(out.data() + start, format, level, time, event, fields);
  out.resize(static_cast<std::size_t>(end - out.data()));
}

bool enabled(spdlog::level::level_enum level) { return spdlog::should_log(level); }

void write(spdlog::level::level_enum level, std::string_view event, std::initializer_list<Field> fields) {
  if (!spdlog::should_log(level)) return;
  // Sized to the largest bound seen so far, so a line costs no allocation and
  // no clearing; one unusually long line does not keep its room for good.
  constexpr std::size_t kMaxKept = 64 * 1024;
  thread_local std::string buffer;
  const std::size_t bound = line_bound(event, fields);
  if (buffer.size() < bound) buffer.resize(bound);
  else if (buffer.size() > kMaxKept && bound <= kMaxKept) std::string(bound, '\0').swap(buffer);
  const char* end = put_line(buffer.data(), g_format, level, std::chrono::system_clock::now(), event, fields);
  stdout_writer().append({buffer.data(), static_cast<std::size_t>(end - buffer.data())}, level >= spdlog::level::warn);
}

void flush() { stdout_writer().flush(); }

void init(const LoggingConfig& config) {
  g_format = config.format;
  static auto sink = std::make_shared<LineWriterSink>(stdout_writer());
  auto logger = std::make_shared<spdlog::logger>("sluice", sink);
  if (config.format == LogFormat::json)
    logger->set_pattern(R"({"ts":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l",%v})", spdlog::pattern_time_type::utc);
  else
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%fZ %l %v", spdlog::pattern_time_type::utc);
  logger->set_level(spdlog::level::from_str(config.level));
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(logger);
  static std::once_flag once;
  std::call_once(once, [] {
    spdlog::flush_every(std::chrono::seconds(1));
    std::atexit([] { flush(); });
  });
}

}  // namespace sluice::log
