#include "openai_stream.hpp"

#include <string.h>  // memmem

#include <algorithm>
#include <vector>

#include <simdjson.h>

#include "openai.hpp"
#include "sluice/core/json_text.hpp"
#include "sluice/net/sse.hpp"

namespace sluice::providers {

namespace asio = boost::asio;
namespace ondemand = simdjson::ondemand;

namespace {

// One replacement in the client's body: bytes [offset, offset+length) become text.
struct Edit {
  std::size_t offset;
  std::size_t length;
  std::string text;
};

constexpr std::string_view kStreamOptionsMember = R"("stream_options":{"include_usage":true},)";
constexpr std::string_view kNullUsage = R"(,"usage":null)";

// `needle` in `hay` from `from` on, or npos. glibc's memmem skips ahead on
// the whole needle; std::string_view::find stops at every occurrence of the
// needle's first byte, and a '"' or ',' occurs every few bytes in JSON
// (profile of a burst stream: 13% of the gateway's CPU in memchr + memcmp).
std::size_t find_bytes(std::string_view hay, std::string_view needle, std::size_t from = 0) {
  if (from > hay.size()) return std::string_view::npos;
  const void* at = ::memmem(hay.data() + from, hay.size() - from, needle.data(), needle.size());
  return at ? static_cast<std::size_t>(static_cast<const char*>(at) - hay.data()) : std::string_view::npos;
}

std::string_view trim_right(std::string_view s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\n' || s.back() == '\r' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The edits that make stream_options.include_usage true, found with a parse;
// nullopt when stream_options has a type that cannot carry it.
std::optional<std::vector<Edit>> usage_edits_parsed(const std::string& body) {
  static thread_local ondemand::parser parser;
  simdjson::padded_string copy;
  const char* data = body.data();
  std::size_t capacity = body.capacity();
  if (capacity < body.size() + simdjson::SIMDJSON_PADDING) {  // admission pads its bodies; others may not
    copy = simdjson::padded_string(body);
    data = copy.data();
    capacity = body.size() + simdjson::SIMDJSON_PADDING;
  }
  auto doc = parser.iterate(data, body.size(), capacity);
  ondemand::object root;
  if (doc.get_object().get(root)) return std::nullopt;
  std::vector<Edit> edits;
  const std::size_t root_start = static_cast<std::size_t>(body.find('{'));
  for (auto field : root) {
    std::string_view key;
    ondemand::value value;
    if (field.unescaped_key().get(key) || field.value().get(value)) return std::nullopt;
    if (key != "stream_options") continue;
    const std::string_view token = value.raw_json_token();  // "{" or "null", plus spaces
    const auto at = static_cast<std::size_t>(token.data() - data);
    ondemand::json_type type;
    if (value.type().get(type)) return std::nullopt;
    if (type == ondemand::json_type::null) {
      edits.push_back({at, trim_right(token).size(), R"({"include_usage":true})"});
      return edits;
    }
    ondemand::object options;
    if (type != ondemand::json_type::object || value.get_object().get(options)) return std::nullopt;
    bool empty = true;
    for (auto option : options) {
      empty = false;
      std::string_view name;
      ondemand::value flag;
      if (option.unescaped_key().get(name) || option.value().get(flag)) return std::nullopt;
      if (name != "include_usage") continue;
      const std::string_view raw = flag.raw_json_token();
      edits.push_back({static_cast<std::size_t>(raw.data() - data), trim_right(raw).size(), "true"});
    }
    if (edits.empty()) edits.push_back({at + 1, 0, empty ? R"("include_usage":true)" : R"("include_usage":true,)"});
    return edits;
  }
  edits.push_back({root_start + 1, 0, std::string(kStreamOptionsMember)});
  return edits;
}

}  // namespace

std::optional<std::string> body_requesting_usage(const LlmRequest& req, std::string_view upstream_model) {
  const std::string& body = req.body;
  std::vector<Edit> edits;
  // Most bodies have no stream_options at all: insert it first thing, no parse.
  // An escaped key ("stream_\u006fptions") could hide one, hence the second test.
  if (body.find("stream_options") == std::string::npos && body.find("\\u") == std::string::npos) {
    edits.push_back({body.find('{') + 1, 0, std::string(kStreamOptionsMember)});
  } else {
    auto parsed = usage_edits_parsed(body);
    if (!parsed) return std::nullopt;
    edits = std::move(*parsed);
  }
  if (upstream_model != req.model) edits.push_back({req.model_offset, req.model_length, json_string(upstream_model)});
  std::sort(edits.begin(), edits.end(), [](const Edit& a, const Edit& b) { return a.offset < b.offset; });

  std::string out;
  std::size_t extra = 0;
  for (const Edit& e : edits) extra += e.text.size();
  out.reserve(body.size() + extra);
  std::size_t pos = 0;
  for (const Edit& e : edits) {
    out.append(body, pos, e.offset - pos);
    out += e.text;
    pos = e.offset + e.length;
  }
  out.append(body, pos);
  return out;
}

std::size_t find_json_value(std::string_view event, std::string_view quoted_key) {
  auto skip_space = [&](std::size_t p) {
    while (p < event.size() && (event[p] == ' ' || event[p] == '\t' || event[p] == '\n' || event[p] == '\r')) ++p;
    return p;
  };
  for (std::size_t at = find_bytes(event, quoted_key); at != std::string_view::npos;
       at = find_bytes(event, quoted_key, at + 1)) {
    if (at > 0 && event[at - 1] == '\\') continue;  // inside a string
    std::size_t p = skip_space(at + quoted_key.size());
    if (p < event.size() && event[p] == ':') return skip_space(p + 1);
  }
  return std::string_view::npos;
}

bool has_empty_choices(std::string_view event) {
  std::size_t p = find_json_value(event, R"("choices")");
  if (p >= event.size() || event[p] != '[') return false;
  while (++p < event.size() && (event[p] == ' ' || event[p] == '\t' || event[p] == '\n' || event[p] == '\r')) {
  }
  return p < event.size() && event[p] == ']';
}

bool has_usage_object(std::string_view event) {
  const std::size_t p = find_json_value(event, R"("usage")");
  return p < event.size() && event[p] == '{';
}

namespace {

class OpenAiChunkStream final : public ChunkStream {
 public:
  OpenAiChunkStream(std::unique_ptr<net::BodyReader> body, std::string provider, StreamFilter filter)
      : body_(std::move(body)), provider_(std::move(provider)), filter_(filter) {}

  asio::awaitable<Result<std::string>> next() override {
    std::string out;
    auto relay = [&](std::string_view event) { on_event(event, out); };
    while (out.empty() && !ended_ && !broken()) {
      auto piece = co_await body_->read_some();
      if (!piece) co_return std::move(piece).error();
      if (piece->empty()) {
        framer_.finish(relay);
        ended_ = true;
        if (!saw_done_ && !malformed_)
          co_return make_error(errc::upstream_protocol,
                               "provider '" + provider_ + "': stream ended before " +
                                   (filter_.responses ? "its final event (response.completed)" : "data: [DONE]"));
        break;
      }
      if (!framer_.feed(*piece, relay)) break;
    }
    // After the first events (which go out at once: time to first byte),
    // whatever else has already arrived goes out together: a burst the
    // upstream sent at once becomes one client write, not one per chunk.
    if (!ended_ && started_ && !broken())
      for (std::string_view more = body_->take_buffered(); !more.empty() && !broken(); more = body_->take_buffered())
        if (!framer_.feed(more, relay)) break;
    started_ = true;
    // An oversize or malformed event ends the stream after the whole events
    // before it; the stream stays broken, so every later next() repeats the error.
    if (out.empty() && framer_.overflowed()) co_return framer_.overflow_error(provider_);
    if (out.empty() && malformed_)
      co_return make_error(errc::upstream_protocol,
                           "provider '" + provider_ + "': the upstream sent a stream event whose data is not JSON");
    co_return out;
  }

  Usage usage() const override { return usage_; }

 private:
  // No more events are relayed: an oversize or malformed event came.
  bool broken() const noexcept { return malformed_ || framer_.overflowed(); }

  // Every event's data is validated (a client's SDK parses it and throws on
  // anything but JSON); the filters are byte checks, and only the one chunk
  // carrying a usage object is parsed for its numbers.
  void on_event(std::string_view event, std::string& out) {
    if (saw_done_ || malformed_) return;  // nothing may follow [DONE] or a broken event
    const std::string_view data = net::sse_data(event, data_scratch_);
    if (filter_.responses) return on_responses_event(event, data, out);
    if (data == "[DONE]") {
      saw_done_ = true;
      out.append(event);
      return;
    }
    // Comments (": ping") and events without data carry nothing to parse.
    if (!data.empty() && !is_json_object(data)) {
      malformed_ = true;
      return;
    }
    bool usage_object = false;
    if (has_usage_object(event)) {
      const Usage u = parse_openai_usage(data);
      if (u.known) usage_ = u;
      usage_object = u.known;
    }
    if ((filter_.drop_empty_choices || filter_.strip_usage) && has_empty_choices(event) &&
        (usage_object ? filter_.strip_usage : filter_.drop_empty_choices))
      return;
    const std::size_t start = out.size();
    out.append(event);
    // Only a data payload (JSON, checked above) is rewritten: in a line that
    // is not data the bytes may be anything, and taking them out could turn
    // it into a data line (found by the openai_stream fuzzer).
    if (filter_.strip_usage && !data.empty())
      if (const std::size_t p = find_bytes(out, kNullUsage, start); p != std::string::npos) out.erase(p, kNullUsage.size());
  }

  // Responses events are relayed as they are; one parse validates each and
  // reads its type and usage. The terminal event plays [DONE]'s part.
  void on_responses_event(std::string_view event, std::string_view data, std::string& out) {
    if (!data.empty()) {
      const auto info = responses_event(data);
      if (!info) {
        malformed_ = true;
        return;
      }
      if (info->usage.known) usage_ = info->usage;
      saw_done_ = info->terminal;
    }
    out.append(event);
  }

  std::unique_ptr<net::BodyReader> body_;
  std::string provider_;
  StreamFilter filter_;
  net::SseFramer framer_;
  std::string data_scratch_;  // an event's data lines joined, when it has several
  Usage usage_;
  bool saw_done_ = false;   // [DONE], or a Responses stream's terminal event
  bool malformed_ = false;  // an event whose data is not JSON came: the stream ends there
  bool ended_ = false;
  bool started_ = false;  // the first events went out
};

}  // namespace

std::unique_ptr<ChunkStream> make_openai_chunk_stream(std::unique_ptr<net::BodyReader> body, std::string provider,
                                                      StreamFilter filter) {
  return std::make_unique<OpenAiChunkStream>(std::move(body), std::move(provider), filter);
}

}  // namespace sluice::providers
