#include "mock.hpp"

#include <charconv>
#include <cmath>
#include <ctime>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "sluice/core/base64.hpp"
#include "sluice/core/json_text.hpp"
#include "sluice/net/sse.hpp"

namespace sluice::providers {

namespace asio = boost::asio;

namespace {

constexpr std::string_view kVocabulary[] = {
    "the", "gateway", "answers", "every", "request", "with", "care", "and", "a", "steady", "flow",
    "of", "tokens", "from", "many", "providers", "while", "limits", "hold", "cache", "keeps", "what",
    "was", "asked", "before", "so", "bursts", "wait", "instead", "failing", "models", "route",
};

std::uint64_t fnv1a(std::string_view s) {
  std::uint64_t h = 1469598103934665603ull;
  for (char c : s) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  return h;
}

std::uint64_t splitmix(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// The text the answer is derived from: the last user message, or the prompt.
std::string_view prompt_of(const LlmRequest& req) {
  for (auto it = req.messages.rbegin(); it != req.messages.rend(); ++it)
    if (it->role == "user") return it->text;
  if (!req.messages.empty()) return req.messages.back().text;
  return req.inputs.empty() ? std::string_view{} : std::string_view(req.inputs.front());
}

// Waits `delay` unless the request is cancelled first.
asio::awaitable<Status> pause(asio::any_io_executor ex, Millis delay, Cancellation& cancel) {
  // Already cancelled (the client left while the previous chunk was written):
  // on_cancel would run the handler at once, before the timer waits, and the
  // wait would then last its full length.
  if (cancel.cancelled()) co_return make_error(errc::cancelled, "request cancelled");
  if (delay.count() <= 0) co_return Ok{};
  asio::steady_timer timer(ex, delay);
  auto reg = cancel.on_cancel([&timer] { timer.cancel(); });
  co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  if (cancel.cancelled()) co_return make_error(errc::cancelled, "request cancelled");
  co_return Ok{};
}

struct Answer {
  std::vector<std::string> words;
  std::string finish_reason;
  Usage usage;
};

Answer make_answer(const LlmRequest& req, const MockConfig& mock) {
  int count = mock.completion_tokens;
  std::string finish = "stop";
  if (req.max_tokens && *req.max_tokens < count) {
    count = static_cast<int>(std::max<std::int64_t>(*req.max_tokens, 0));
    finish = "length";
  }
  Answer a{mock_words(prompt_of(req), count), finish, {}};
  a.usage = {estimate_tokens(req.prompt_chars()) + static_cast<std::int64_t>(req.messages.size()) * 3,
             static_cast<std::int64_t>(a.words.size()), true};
  return a;
}

void append_usage(std::string& out, const Usage& u) {
  out += R"("usage":{"prompt_tokens":)" + std::to_string(u.prompt_tokens) + R"(,"completion_tokens":)" +
         std::to_string(u.completion_tokens) + R"(,"total_tokens":)" +
         std::to_string(u.prompt_tokens + u.completion_tokens) + "}";
}

std::string join(const std::vector<std::string>& words, std::size_t from, std::size_t to) {
  std::string s;
  for (std::size_t i = from; i < to; ++i) {
    if (i > from) s += ' ';
    s += words[i];
  }
  return s;
}

// Common prefix of every JSON object the mock writes: id, object, created, model.
std::string head(std::string_view id, std::string_view object, std::string_view model) {
  std::string out = R"({"id":)";
  append_json_string(out, id);
  out += R"(,"object":")";
  out += object;
  out += R"(","created":)" + std::to_string(std::time(nullptr)) + R"(,"model":)";
  append_json_string(out, model);
  return out;
}

// Pre-rendered SSE events of a streamed answer, handed out one at a time with
// the configured pacing between content events.
class MockChunkStream final : public ChunkStream {
 public:
  MockChunkStream(std::vector<std::string> events, std::size_t first_paced, std::size_t last_paced, Usage usage,
                  asio::any_io_executor ex, Millis interval, Cancellation& cancel)
      : events_(std::move(events)), first_paced_(first_paced), last_paced_(last_paced), usage_(usage),
        executor_(std::move(ex)), interval_(interval), cancel_(cancel) {}

  asio::awaitable<Result<std::string>> next() override {
    if (next_ == events_.size()) co_return std::string{};
    if (interval_.count() <= 0) {  // unpaced: everything in one write
      std::string all;
      for (; next_ < events_.size(); ++next_) all += events_[next_];
      co_return all;
    }
    if (next_ > first_paced_ && next_ <= last_paced_)
      if (Status s = co_await pause(executor_, interval_, cancel_); !s) co_return std::move(s).error();
    co_return std::move(events_[next_++]);
  }

  Usage usage() const override { return usage_; }

 private:
  std::vector<std::string> events_;
  std::size_t first_paced_, last_paced_;  // content events; the delay goes before each after the first
  std::size_t next_ = 0;
  Usage usage_;
  asio::any_io_executor executor_;
  Millis interval_;
  Cancellation& cancel_;
};

std::string chat_chunk(std::string_view prefix, std::string_view delta_json, std::string_view finish) {
  std::string out(prefix);
  out += R"(,"choices":[{"index":0,"delta":)";
  out += delta_json;
  out += R"(,"logprobs":null,"finish_reason":)";
  out += finish.empty() ? "null" : "\"" + std::string(finish) + "\"";
  out += "}]}";
  return net::sse_event(out);
}

std::string text_chunk(std::string_view prefix, std::string_view text, std::string_view finish) {
  std::string out(prefix);
  out += R"(,"choices":[{"index":0,"text":)";
  append_json_string(out, text);
  out += R"(,"logprobs":null,"finish_reason":)";
  out += finish.empty() ? "null" : "\"" + std::string(finish) + "\"";
  out += "}]}";
  return net::sse_event(out);
}

std::string embeddings_body(const LlmRequest& req, std::string_view model, const MockConfig& mock) {
  const int dims = req.dimensions.value_or(mock.embedding_dims);
  const bool base64 = req.encoding_format == EncodingFormat::base64;
  std::string out = R"({"object":"list","data":[)";
  for (std::size_t i = 0; i < req.inputs.size(); ++i) {
    if (i) out += ',';
    out += R"({"object":"embedding","index":)" + std::to_string(i) + R"(,"embedding":)";
    const std::vector<float> v = mock_embedding(req.inputs[i], dims);
    if (base64) {
      out += '"' + floats_to_base64(v) + '"';
    } else {
      out += '[';
      char buf[32];
      for (std::size_t k = 0; k < v.size(); ++k) {
        if (k) out += ',';
        out.append(buf, std::to_chars(buf, buf + sizeof buf, v[k]).ptr);
      }
      out += ']';
    }
    out += '}';
  }
  const std::int64_t tokens = estimate_tokens(req.prompt_chars());
  out += R"(],"model":)";
  append_json_string(out, model);
  out += R"(,"usage":{"prompt_tokens":)" + std::to_string(tokens) + R"(,"total_tokens":)" + std::to_string(tokens) + "}}";
  return out;
}

}  // namespace

std::vector<std::string> mock_words(std::string_view prompt, int count) {
  std::uint64_t state = fnv1a(prompt);
  std::vector<std::string> words;
  words.reserve(static_cast<std::size_t>(std::max(count, 0)));
  for (int i = 0; i < count; ++i) words.emplace_back(kVocabulary[splitmix(state) % std::size(kVocabulary)]);
  return words;
}

std::vector<float> mock_embedding(std::string_view text, int dims) {
  std::uint64_t state = fnv1a(text);
  std::vector<float> v(static_cast<std::size_t>(std::max(dims, 1)));
  double norm = 0;
  for (float& x : v) {
    x = static_cast<float>(static_cast<double>(splitmix(state) >> 11) / 9007199254740992.0 * 2.0 - 1.0);
    norm += static_cast<double>(x) * x;
  }
  const double scale = norm > 0 ? 1.0 / std::sqrt(norm) : 0.0;
  for (float& x : v) x = static_cast<float>(x * scale);
  return v;
}

MockProvider::MockProvider(const ProviderConfig& config, asio::any_io_executor executor)
    : config_(config), executor_(std::move(executor)) {}

asio::awaitable<Result<ProviderResponse>> MockProvider::complete(const LlmRequest& req, std::string upstream_model,
                                                                 RequestContext& ctx) {
  if (Status s = co_await pause(executor_, config_.mock.latency, ctx.cancellation); !s) co_return std::move(s).error();
  ProviderResponse r;
  if (req.endpoint == Endpoint::embeddings) {
    r.body = embeddings_body(req, upstream_model, config_.mock);
    r.usage = {estimate_tokens(req.prompt_chars()), 0, true};
    co_return r;
  }
  const Answer a = make_answer(req, config_.mock);
  const std::string text = join(a.words, 0, a.words.size());
  const bool chat = req.endpoint == Endpoint::chat_completions;
  std::string out = head((chat ? "chatcmpl-mock-" : "cmpl-mock-") + std::to_string(next_id_++),
                         chat ? "chat.completion" : "text_completion", upstream_model);
  if (chat) {
    out += R"(,"choices":[{"index":0,"message":{"role":"assistant","content":)";
    append_json_string(out, text);
    out += R"(,"refusal":null},"logprobs":null,"finish_reason":")" + a.finish_reason + "\"}],";
  } else {
    out += R"(,"choices":[{"index":0,"text":)";
    append_json_string(out, text);
    out += R"(,"logprobs":null,"finish_reason":")" + a.finish_reason + "\"}],";
  }
  append_usage(out, a.usage);
  out += '}';
  r.body = std::move(out);
  r.usage = a.usage;
  co_return r;
}

asio::awaitable<Result<StreamStart>> MockProvider::stream(const LlmRequest& req, std::string upstream_model,
                                                          RequestContext& ctx) {
  if (Status s = co_await pause(executor_, config_.mock.latency, ctx.cancellation); !s) co_return std::move(s).error();
  const Answer a = make_answer(req, config_.mock);
  const bool chat = req.endpoint == Endpoint::chat_completions;
  const std::string prefix = head((chat ? "chatcmpl-mock-" : "cmpl-mock-") + std::to_string(next_id_++),
                                  chat ? "chat.completion.chunk" : "text_completion", upstream_model);
  std::vector<std::string> events;
  if (chat) events.push_back(chat_chunk(prefix, R"({"role":"assistant","content":"","refusal":null})", ""));
  const std::size_t first_content = events.size();
  const std::size_t chunks = std::max<std::size_t>(1, std::min<std::size_t>(config_.mock.stream_chunks, a.words.size()));
  for (std::size_t c = 0; c < chunks && !a.words.empty(); ++c) {
    const std::size_t from = a.words.size() * c / chunks, to = a.words.size() * (c + 1) / chunks;
    std::string piece = (from ? " " : "") + join(a.words, from, to);
    if (chat) {
      std::string delta = R"({"content":)";
      append_json_string(delta, piece);
      events.push_back(chat_chunk(prefix, delta + "}", ""));
    } else {
      events.push_back(text_chunk(prefix, piece, ""));
    }
  }
  // No content events (max_tokens 0): nothing to pace.
  const std::size_t last_content = events.size() > first_content ? events.size() - 1 : first_content;
  events.push_back(chat ? chat_chunk(prefix, "{}", a.finish_reason) : text_chunk(prefix, "", a.finish_reason));
  if (req.include_usage) {
    std::string u = prefix + R"(,"choices":[],)";
    append_usage(u, a.usage);
    events.push_back(net::sse_event(u + "}"));
  }
  events.push_back(net::sse_event("[DONE]"));
  co_return StreamStart{{},
                        std::make_unique<MockChunkStream>(std::move(events), first_content, last_content, a.usage,
                                                          executor_, config_.mock.chunk_interval, ctx.cancellation)};
}

}  // namespace sluice::providers

