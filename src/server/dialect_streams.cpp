#include "dialect_streams.hpp"

#include <charconv>
#include <limits>
#include <optional>

#include <simdjson.h>

#include "json_body.hpp"
#include "reply.hpp"
#include "responses_answer.hpp"
#include "sluice/net/sse.hpp"

namespace sluice::server {

namespace asio = boost::asio;

std::string named_event(std::string_view name, std::string_view json) {
  std::string out;
  out.reserve(name.size() + json.size() + 16);
  out.append("event: ").append(name).append("\ndata: ").append(json).append("\n\n");
  return out;
}

Result<ChatEvent> read_chat_event(std::string_view raw_event) {
  namespace dom = simdjson::dom;
  static thread_local dom::parser parser;
  static thread_local std::string data;
  ChatEvent event;
  data = net::sse_data(raw_event);
  if (data.empty()) return event;
  if (data == "[DONE]") {
    event.kind = ChatEvent::Kind::done;
    return event;
  }
  dom::element chunk;
  if (parser.parse(data.data(), data.size()).get(chunk) || !chunk.is_object())
    return make_error(errc::upstream_protocol, "the upstream sent a stream event that is not a JSON object");
  if (auto error = member(chunk, "error"))
    return make_error(errc::upstream_unavailable,
                      "the upstream's stream failed: " + std::string(string_at(*error, "message")));
  event.kind = ChatEvent::Kind::chunk;
  event.model = string_at(chunk, "model");
  event.usage = chat_usage(chunk);
  dom::element choice, delta;
  if (chunk["choices"].at(0).get(choice)) return event;  // a usage chunk
  event.finish_reason = string_at(choice, "finish_reason");
  if (choice["delta"].get(delta) || !delta.is_object()) return event;
  event.content = string_at(delta, "content");
  const auto calls = member(delta, "tool_calls");
  if (!calls || !calls->is_array()) return event;
  for (dom::element call : array_of(*calls)) {
    ChatEvent::ToolDelta d;
    if (call["index"].get_int64().get(d.index)) d.index = 0;
    d.id = string_at(call, "id");
    if (auto function = member(call, "function")) {
      d.name = string_at(*function, "name");
      d.arguments = string_at(*function, "arguments");
    }
    event.tool_calls.push_back(d);
  }
  return event;
}

Status StreamTranslator::feed(const ChatEvent& event, const Usage& usage, std::string& out) {
  if (!started_) {
    started_ = true;
    start(event.model, out);
  }
  if (event.kind == ChatEvent::Kind::done) {
    done_ = true;
    finish(finish_reason_, usage_.known ? usage_ : usage, out);
    return Ok{};
  }
  if (event.usage.known) usage_ = event.usage;
  if (!event.finish_reason.empty()) finish_reason_ = event.finish_reason;
  if (!event.content.empty())
    if (Status s = text(event.content, out); !s) return s;
  for (const ChatEvent::ToolDelta& delta : event.tool_calls)
    if (Status s = tool_delta(delta, out); !s) return s;
  return Ok{};
}

namespace {

// True when every line of the event is a comment (": queued"); an event
// that goes on with data or fields after one is an event like any other.
bool only_comments(std::string_view raw) {
  bool any = false;
  while (!raw.empty()) {
    const std::size_t end = raw.find_first_of("\r\n");
    const std::string_view line = raw.substr(0, end);
    if (!line.empty()) {
      if (line.front() != ':') return false;
      any = true;
    }
    if (end == std::string_view::npos) break;
    raw.remove_prefix(end + 1);
  }
  return any;
}

// Pulls batches of chat events, splits them into events (a batch is whole
// events) and hands each to the translator. After [DONE] the chat stream is
// drained to its end; a chat stream that ends without it has broken.
class TranslatedStream final : public ChunkStream {
 public:
  TranslatedStream(std::unique_ptr<ChunkStream> chat, std::unique_ptr<StreamTranslator> translator)
      : chat_(std::move(chat)), translator_(std::move(translator)) {}

  asio::awaitable<Result<std::string>> next() override {
    std::string out;
    while (out.empty()) {
      if (failure_) co_return *failure_;
      auto batch = co_await chat_->next();
      if (!batch) co_return std::move(batch).error();
      if (batch->empty()) {
        if (translator_->done()) co_return std::string{};
        co_return make_error(errc::upstream_protocol, "the upstream's stream ended before it was complete");
      }
      const Usage usage = chat_->usage();
      const bool framed = framer_.feed(*batch, [&](std::string_view raw) {
        if (failure_ || translator_->done()) return;
        // A comment (the overflow queue's ": queued" keep-alive) reaches the
        // client as it is: every SSE client skips it, and it keeps proxies
        // and read timeouts from giving up on a stream that waits.
        if (only_comments(raw)) {
          out.append(raw);
          return;
        }
        auto event = read_chat_event(raw);
        if (!event) failure_ = std::move(event).error();
        else if (event->kind == ChatEvent::Kind::nothing) return;
        else if (Status s = translator_->feed(*event, usage, out); !s) failure_ = std::move(s).error();
      });
      if (!framed && !failure_) failure_ = framer_.overflow_error("upstream");
      // What was translated before a failure goes out first.
      if (failure_ && out.empty()) co_return *failure_;
    }
    co_return out;
  }

  Usage usage() const override { return chat_->usage(); }
  std::string failure_event(const Error& error) override { return translator_->failure_event(error); }

 private:
  std::unique_ptr<ChunkStream> chat_;
  std::unique_ptr<StreamTranslator> translator_;
  net::SseFramer framer_;
  std::optional<Error> failure_;
};

class NativeMessagesStream final : public ChunkStream {
 public:
  explicit NativeMessagesStream(std::unique_ptr<ChunkStream> inner) : inner_(std::move(inner)) {}

  asio::awaitable<Result<std::string>> next() override { co_return co_await inner_->next(); }
  Usage usage() const override { return inner_->usage(); }
  std::string failure_event(const Error& error) override { return named_event("error", anthropic_error_body(error)); }

 private:
  std::unique_ptr<ChunkStream> inner_;
};

// The number after the last `"sequence_number":` in `batch` that is not
// inside a string (a quote there would be escaped); nullopt when none.
std::optional<std::int64_t> last_sequence_number(std::string_view batch) {
  static constexpr std::string_view kKey = R"("sequence_number")";
  for (std::size_t end = batch.size(); end > 0;) {
    const std::size_t at = batch.rfind(kKey, end - 1);
    if (at == std::string_view::npos) break;
    end = at;
    if (at > 0 && batch[at - 1] == '\\') continue;  // text inside a string
    std::size_t p = at + kKey.size();
    while (p < batch.size() && (batch[p] == ' ' || batch[p] == ':')) ++p;
    std::int64_t n = 0;
    if (std::from_chars(batch.data() + p, batch.data() + batch.size(), n).ec == std::errc()) return n;
  }
  return std::nullopt;
}

class NativeResponsesStream final : public ChunkStream {
 public:
  explicit NativeResponsesStream(std::unique_ptr<ChunkStream> inner) : inner_(std::move(inner)) {}

  asio::awaitable<Result<std::string>> next() override {
    auto batch = co_await inner_->next();
    if (batch && !batch->empty()) observe(*batch);
    co_return batch;
  }
  Usage usage() const override { return inner_->usage(); }

  std::string failure_event(const Error& error) override {
    return response_failed_event(draft_, next_sequence_, error);
  }

 private:
  // The first event with data is response.created: its response's id, time
  // and model are what a response.failed must name. Later events only move
  // the sequence on. Keep-alive comments (the overflow queue's) say nothing,
  // also when they share a batch with response.created.
  void observe(std::string_view batch) {
    if (!seen_created_) {
      net::SseFramer framer;
      (void)framer.feed(batch, [&](std::string_view event) {
        if (seen_created_) return;
        const std::string data = net::sse_data(event);
        if (data.empty()) return;  // a comment
        seen_created_ = true;
        simdjson::dom::parser parser;
        simdjson::dom::element response;
        if (parser.parse(data).at_pointer("/response").get(response)) return;
        std::string_view s;
        std::int64_t created = 0;
        if (!response["id"].get_string().get(s)) draft_.id = std::string(s);
        if (!response["model"].get_string().get(s)) draft_.model = std::string(s);
        if (!response["created_at"].get_int64().get(created)) draft_.created_at = created;
      });
    }
    // The upstream's number, whatever it is: the largest one stays (no overflow).
    if (const auto n = last_sequence_number(batch))
      next_sequence_ = *n < std::numeric_limits<std::int64_t>::max() ? *n + 1 : *n;
  }

  std::unique_ptr<ChunkStream> inner_;
  ResponseDraft draft_;
  std::int64_t next_sequence_ = 0;
  bool seen_created_ = false;
};

}  // namespace

std::unique_ptr<ChunkStream> translated_stream(std::unique_ptr<ChunkStream> chat,
                                               std::unique_ptr<StreamTranslator> translator) {
  return std::make_unique<TranslatedStream>(std::move(chat), std::move(translator));
}

std::unique_ptr<ChunkStream> native_messages_stream(std::unique_ptr<ChunkStream> inner) {
  return std::make_unique<NativeMessagesStream>(std::move(inner));
}

std::unique_ptr<ChunkStream> native_responses_stream(std::unique_ptr<ChunkStream> inner) {
  return std::make_unique<NativeResponsesStream>(std::move(inner));
}

}  // namespace sluice::server
