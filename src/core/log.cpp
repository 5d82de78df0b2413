// spdlog setup and the event formatter. Lines go to stdout through a buffered
// sink: flushing each access line would cost a write(2) per request, so the
// buffer is flushed every second and at once for warnings and errors.
#include "sluice/core/log.hpp"

#include <cstdio>
#include <mutex>

#include <fmt/format.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include "sluice/core/json_text.hpp"

namespace sluice::log {
namespace {

class BufferedStdoutSink final : public spdlog::sinks::base_sink<std::mutex> {
 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t formatted;
    formatter_->format(msg, formatted);
    std::fwrite(formatted.data(), 1, formatted.size(), stdout);
  }
  void flush_() override { std::fflush(stdout); }
};

LogFormat g_format = LogFormat::json;

void append_text_value(std::string& out, std::string_view v) {
  // logfmt: quote when the value has a space, quote or '='; escape like JSON.
  bool plain = !v.empty();
  for (char c : v)
    if (c == ' ' || c == '"' || c == '=' || static_cast<unsigned char>(c) < 0x20) plain = false;
  if (plain) out += v;
  else append_json_string(out, v);
}

void append_value(std::string& out, LogFormat format, const Field& f) {
  switch (f.kind) {
    case Field::Kind::text:
      if (format == LogFormat::json) append_json_string(out, f.text);
      else append_text_value(out, f.text);
      break;
    case Field::Kind::integer: fmt::format_to(std::back_inserter(out), "{}", f.integer); break;
    case Field::Kind::unsigned_integer: fmt::format_to(std::back_inserter(out), "{}", f.unsigned_integer); break;
    case Field::Kind::real: fmt::format_to(std::back_inserter(out), "{:.3f}", f.real); break;
    case Field::Kind::boolean: out += f.boolean ? "true" : "false"; break;
  }
}

}  // namespace

std::string render(LogFormat format, std::string_view event, std::initializer_list<Field> fields) {
  std::string out;
  out.reserve(128 + fields.size() * 24);
  if (format == LogFormat::json) {
    out += R"("event":)";
    append_json_string(out, event);
    for (const Field& f : fields) {
      out += ',';
      append_json_string(out, f.key);
      out += ':';
      append_value(out, format, f);
    }
  } else {
    out += event;
    for (const Field& f : fields) {
      out += ' ';
      out += f.key;
      out += '=';
      append_value(out, format, f);
    }
  }
  return out;
}

bool enabled(spdlog::level::level_enum level) { return spdlog::should_log(level); }

void write(spdlog::level::level_enum level, std::string_view event, std::initializer_list<Field> fields) {
  if (!spdlog::should_log(level)) return;
  spdlog::log(level, "{}", render(g_format, event, fields));
}

void init(const LoggingConfig& config) {
  g_format = config.format;
  static auto sink = std::make_shared<BufferedStdoutSink>();
  auto logger = std::make_shared<spdlog::logger>("sluice", sink);
  if (config.format == LogFormat::json)
    logger->set_pattern(R"({"ts":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l",%v})", spdlog::pattern_time_type::utc);
  else
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%fZ %l %v", spdlog::pattern_time_type::utc);
  logger->set_level(spdlog::level::from_str(config.level));
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(logger);
  static std::once_flag flusher;
  std::call_once(flusher, [] { spdlog::flush_every(std::chrono::seconds(1)); });
}

}  // namespace sluice::log
