// Anthropic answers -> OpenAI's shapes: whole messages, stream events, errors.
#include <array>
#include <utility>

#include "anthropic.hpp"
#include "anthropic_json.hpp"
#include "openai.hpp"
#include "sluice/core/json_text.hpp"
#include "sluice/net/sse.hpp"

namespace sluice::providers {

namespace {

using json = nlohmann::json;
using json_access::int_member;
using json_access::member;
using json_access::string_member;
using anthropic::to_openai_finish_reason;

// Counts present in an Anthropic usage object overwrite the ones held: the
// stream's message_delta repeats them cumulatively.
void update_tokens(anthropic::Tokens& tokens, const json* usage) {
  if (!usage || !usage->is_object()) return;
  tokens.known = true;
  const std::pair<const char*, std::int64_t*> fields[] = {{"input_tokens", &tokens.input},
                                                          {"cache_creation_input_tokens", &tokens.cache_creation},
                                                          {"cache_read_input_tokens", &tokens.cache_read},
                                                          {"output_tokens", &tokens.output}};
  for (const auto& [name, slot] : fields)
    if (auto n = int_member(*usage, name)) *slot = *n;
}

json openai_usage(const anthropic::Tokens& tokens) {
  const Usage u = tokens.to_usage();
  return {{"prompt_tokens", u.prompt_tokens},
          {"completion_tokens", u.completion_tokens},
          {"total_tokens", u.prompt_tokens + u.completion_tokens},
          {"prompt_tokens_details", {{"cached_tokens", tokens.cache_read}}}};
}

Error protocol_error(std::string message) { return make_error(errc::upstream_protocol, std::move(message)); }

}  // namespace

Result<TranslatedResponse> to_openai_response(std::string_view anthropic_body, std::int64_t created) {
  const json message = json::parse(anthropic_body, nullptr, false);
  const json* content = member(message, "content");
  if (string_member(message, "type") != "message" || !content || !content->is_array())
    return protocol_error("the Anthropic answer is not a Message object");

  std::string text;
  json tool_calls = json::array();
  for (const json& block : *content) {
    const std::string_view type = string_member(block, "type");
    if (type == "text") {
      text += string_member(block, "text");
    } else if (type == "tool_use") {
      const json* input = member(block, "input");
      tool_calls.push_back({{"id", string_member(block, "id")},
                            {"type", "function"},
                            {"function",
                             {{"name", string_member(block, "name")},
                              {"arguments", json_access::dump(input ? *input : json::object())}}}});
    }  // thinking, redacted_thinking and server-side tool blocks have no OpenAI form
  }

  json out_message = {{"role", "assistant"}, {"refusal", nullptr}};
  out_message["content"] = text.empty() && !tool_calls.empty() ? json(nullptr) : json(std::move(text));
  if (!tool_calls.empty()) out_message["tool_calls"] = std::move(tool_calls);

  anthropic::Tokens tokens;
  update_tokens(tokens, member(message, "usage"));
  json out = {{"id", string_member(message, "id")},
              {"object", "chat.completion"},
              {"created", created},
              {"model", string_member(message, "model")},
              {"choices",
               {{{"index", 0},
                 {"message", std::move(out_message)},
                 {"logprobs", nullptr},
                 {"finish_reason", to_openai_finish_reason(string_member(message, "stop_reason"))}}}}};
  if (tokens.known) out["usage"] = openai_usage(tokens);
  return TranslatedResponse{json_access::dump(out), tokens.to_usage()};
}

Error map_anthropic_error(std::string_view provider, int status, std::string_view body, const net::ResponseHead& head) {
  const json parsed = json::parse(body, nullptr, false);
  const json* error = member(parsed, "error");
  std::string detail(error ? string_member(*error, "message") : std::string_view{});
  Error e = upstream_status_error(provider, status, std::move(detail), head);
  e.upstream_status = status;
  return e;
}

std::vector<Header> anthropic_surfaced_headers(const net::ResponseHead& head) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 4> kRenamed = {{
      {"anthropic-ratelimit-requests-limit", "x-ratelimit-limit-requests"},
      {"anthropic-ratelimit-requests-remaining", "x-ratelimit-remaining-requests"},
      {"anthropic-ratelimit-tokens-limit", "x-ratelimit-limit-tokens"},
      {"anthropic-ratelimit-tokens-remaining", "x-ratelimit-remaining-tokens"},
  }};
  std::vector<Header> out = surfaced_headers(head);
  for (const auto& [from, to] : kRenamed) {
    const std::string_view value = head.header(from);
    if (!value.empty() && is_safe_header_value(value)) out.push_back({std::string(to), std::string(value)});
  }
  return out;
}

// --- AnthropicStreamTranslator ---------------------------------------------

AnthropicStreamTranslator::AnthropicStreamTranslator(std::string provider, bool include_usage, std::int64_t created,
                                                     Mode mode)
    : provider_(std::move(provider)), include_usage_(include_usage), created_(created), mode_(mode) {}

Status AnthropicStreamTranslator::feed(std::string_view raw_event, std::string& out) {
  if (stopped_) return Ok{};  // nothing may follow message_stop
  const std::string data = net::sse_data(raw_event);
  if (data.empty()) {  // a comment or a bare `event:` line
    if (mode_ == Mode::relay) out.append(raw_event);
    return Ok{};
  }
  const json event = json::parse(data, nullptr, false);
  if (!event.is_object()) return fail(errc::upstream_protocol, "an event that is not a JSON object");
  const std::string_view type = string_member(event, "type");
  if (mode_ == Mode::relay) return relay(type, event, raw_event, out);
  if (type == "ping") return Ok{};
  if (type == "error") return on_error(event);
  if (type == "message_start") return on_message_start(event, out);
  const bool known = type == "content_block_start" || type == "content_block_delta" ||
                     type == "content_block_stop" || type == "message_delta" || type == "message_stop";
  if (!known) return Ok{};  // Anthropic may add event types; they carry nothing we relay
  if (!started_) return fail(errc::upstream_protocol, std::string(type) + " before message_start");
  if (type == "content_block_start") return on_block_start(event, out);
  if (type == "content_block_delta") return on_block_delta(event, out);
  if (type == "content_block_stop") return on_block_stop(event, out);
  if (type == "message_delta") on_message_delta(event);
  else on_message_stop(out);
  return Ok{};
}

// The same checks and bookkeeping as translation, the event itself passed on.
Status AnthropicStreamTranslator::relay(std::string_view type, const nlohmann::json& event, std::string_view raw_event,
                                        std::string& out) {
  if (type == "error") return on_error(event);
  if (type == "message_start") {
    const json* message = member(event, "message");
    if (started_ || !message || !message->is_object()) return fail(errc::upstream_protocol, "a malformed message_start");
    started_ = true;
    update_tokens(tokens_, member(*message, "usage"));
  } else if (!started_ && (type == "content_block_start" || type == "content_block_delta" ||
                           type == "content_block_stop" || type == "message_delta" || type == "message_stop")) {
    return fail(errc::upstream_protocol, std::string(type) + " before message_start");
  } else if (type == "message_delta") {
    update_tokens(tokens_, member(event, "usage"));
  } else if (type == "message_stop") {
    stopped_ = true;
  }
  out.append(raw_event);
  return Ok{};
}

Status AnthropicStreamTranslator::finish() const {
  if (stopped_) return Ok{};
  return fail(errc::upstream_protocol, "the stream ended before message_stop");
}

Status AnthropicStreamTranslator::on_message_start(const nlohmann::json& event, std::string& out) {
  const json* message = member(event, "message");
  if (started_ || !message || !message->is_object()) return fail(errc::upstream_protocol, "a malformed message_start");
  started_ = true;
  update_tokens(tokens_, member(*message, "usage"));
  chunk_prefix_ = R"({"id":)";
  append_json_string(chunk_prefix_, string_member(*message, "id"));
  chunk_prefix_ += R"(,"object":"chat.completion.chunk","created":)" + std::to_string(created_) + R"(,"model":)";
  append_json_string(chunk_prefix_, string_member(*message, "model"));
  chunk_prefix_ += ',';
  emit_delta(out, R"({"role":"assistant","content":""})");
  return Ok{};
}

Status AnthropicStreamTranslator::on_block_start(const nlohmann::json& event, std::string& out) {
  const auto index = int_member(event, "index");
  const json* block = member(event, "content_block");
  if (!index || !block || blocks_.contains(*index)) return fail(errc::upstream_protocol, "a malformed content_block_start");
  Block& b = blocks_[*index];
  const std::string_view type = string_member(*block, "type");
  if (type == "text") {
    b.text = true;
    if (const std::string_view text = string_member(*block, "text"); !text.empty())
      emit_delta(out, json_access::dump({{"content", text}}));
  } else if (type == "tool_use") {
    b.tool = tools_++;
    emit_delta(out, json_access::dump({{"tool_calls",
                                        {{{"index", b.tool},
                                          {"id", string_member(*block, "id")},
                                          {"type", "function"},
                                          {"function", {{"name", string_member(*block, "name")}, {"arguments", ""}}}}}}}));
  }  // thinking and other blocks: deltas for them are dropped
  return Ok{};
}

Status AnthropicStreamTranslator::on_block_delta(const nlohmann::json& event, std::string& out) {
  const auto index = int_member(event, "index");
  const json* delta = member(event, "delta");
  const auto it = index ? blocks_.find(*index) : blocks_.end();
  if (it == blocks_.end() || !delta) return fail(errc::upstream_protocol, "a content_block_delta for no open block");
  Block& b = it->second;
  const std::string_view type = string_member(*delta, "type");
  if (type == "text_delta" && b.text) {
    if (const std::string_view text = string_member(*delta, "text"); !text.empty())
      emit_delta(out, json_access::dump({{"content", text}}));
  } else if (type == "input_json_delta" && b.tool >= 0) {
    const std::string_view partial = string_member(*delta, "partial_json");
    if (partial.empty()) return Ok{};
    b.has_arguments = true;
    emit_delta(out, json_access::dump({{"tool_calls", {{{"index", b.tool}, {"function", {{"arguments", partial}}}}}}}));
  }
  return Ok{};
}

Status AnthropicStreamTranslator::on_block_stop(const nlohmann::json& event, std::string& out) {
  const auto index = int_member(event, "index");
  const auto it = index ? blocks_.find(*index) : blocks_.end();
  if (it == blocks_.end()) return fail(errc::upstream_protocol, "a content_block_stop for no open block");
  // A tool without parameters streams no input at all; OpenAI clients parse
  // the arguments they reassembled, and "" is not JSON.
  if (it->second.tool >= 0 && !it->second.has_arguments)
    emit_delta(out, json_access::dump({{"tool_calls", {{{"index", it->second.tool}, {"function", {{"arguments", "{}"}}}}}}}));
  return Ok{};
}

void AnthropicStreamTranslator::on_message_delta(const nlohmann::json& event) {
  if (const json* delta = member(event, "delta"))
    if (const std::string_view reason = string_member(*delta, "stop_reason"); !reason.empty()) stop_reason_ = reason;
  update_tokens(tokens_, member(event, "usage"));
}

void AnthropicStreamTranslator::on_message_stop(std::string& out) {
  stopped_ = true;
  std::string rest = R"("choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":)";
  append_json_string(rest, to_openai_finish_reason(stop_reason_));
  rest += "}]}";
  emit(out, rest);
  if (include_usage_) emit(out, R"("choices":[],"usage":)" + json_access::dump(openai_usage(tokens_)) + "}");
  out += net::sse_event("[DONE]");
}

Error AnthropicStreamTranslator::on_error(const nlohmann::json& event) const {
  const json* error = member(event, "error");
  const std::string_view type = error ? string_member(*error, "type") : std::string_view{};
  // As with HTTP 401/403 (Anthropic's statuses for these two types), words
  // about the gateway's credentials are not relayed.
  if (type == "authentication_error") return credentials_refused(provider_, 401);
  if (type == "permission_error") return credentials_refused(provider_, 403);
  errc code = errc::upstream_unavailable;  // overloaded_error, api_error, and types yet unknown
  if (type == "rate_limit_error") code = errc::upstream_rate_limited;
  else if (type == "invalid_request_error" || type == "request_too_large") code = errc::upstream_rejected;
  std::string what = "an error event (" + std::string(type.empty() ? "unknown" : type) + ")";
  if (const std::string_view message = error ? string_member(*error, "message") : ""; !message.empty())
    what += ": " + std::string(message);
  Error e = fail(code, what);
  // A client of /v1/messages hears an overload as Anthropic says it: 529.
  if (type == "overloaded_error") e.upstream_status = anthropic::status_of_error_type(type);
  return e;
}

void AnthropicStreamTranslator::emit(std::string& out, std::string_view rest) const {
  std::string payload = chunk_prefix_;
  payload += rest;
  out += net::sse_event(payload);
}

void AnthropicStreamTranslator::emit_delta(std::string& out, const std::string& delta_json) const {
  emit(out, R"("choices":[{"index":0,"delta":)" + delta_json + R"(,"logprobs":null,"finish_reason":null}]})");
}

Error AnthropicStreamTranslator::fail(errc code, std::string_view what) const {
  return make_error(code, "provider '" + provider_ + "' stream: " + std::string(what));
}

}  // namespace sluice::providers
