// AnswerAccumulator: a relayed stream's events added up into the complete
// answer the cache stores. Each format keeps only what its complete answer
// repeats; raw JSON of parts it does not need to understand (usage objects,
// unknown content blocks) is kept as sent.
#include <map>
#include <vector>

#include <simdjson.h>

#include "cached_answer.hpp"
#include "sluice/core/json_text.hpp"

namespace sluice::pipeline {

namespace dom = simdjson::dom;

namespace {

std::string_view text_of(dom::element e, const char* key) {
  std::string_view out;
  if (e[key].get_string().get(out)) return {};
  return out;
}

std::string raw_of(dom::element e) { return simdjson::minify(e); }

std::string usage_json(const Usage& usage) {
  return R"({"prompt_tokens":)" + std::to_string(usage.prompt_tokens) + R"(,"completion_tokens":)" +
         std::to_string(usage.completion_tokens) + R"(,"total_tokens":)" +
         std::to_string(usage.prompt_tokens + usage.completion_tokens) + "}";
}

}  // namespace

struct AnswerAccumulator::State {
  Endpoint format;
  std::size_t max_bytes;
  std::size_t held = 0;
  bool failed = false;
  bool complete = false;
  std::string pending;  // a partial event from the last batch
  dom::parser parser;

  // chat.completion.chunk
  std::string id, model, fingerprint, content, refusal, finish_reason, usage;
  std::int64_t created = 0;
  struct Call {
    std::string id, name, arguments;
  };
  std::map<std::int64_t, Call> calls;

  // Anthropic messages: the message_start message's raw fields, then blocks.
  struct Block {
    std::string type, text, signature, raw_start;  // raw_start: a block type kept whole
    std::string id, name;                          // tool_use
  };
  std::string message_start;  // the message object of message_start (its content is empty)
  std::vector<Block> blocks;
  std::string stop_reason = "null", stop_sequence = "null";
  std::int64_t output_tokens = -1;

  // responses
  std::string response;

  bool hold(std::size_t bytes) {
    held += bytes;
    if (held > max_bytes) failed = true;
    return !failed;
  }

  void event(std::string_view data);
  void chat(dom::element chunk);
  void messages(dom::element event);
  std::string chat_body(const Usage& usage) const;
  std::string message_body(const Usage& usage) const;
};

AnswerAccumulator::AnswerAccumulator(Endpoint format, std::size_t max_bytes)
    : state_(std::make_unique<State>()) {
  state_->format = format;
  state_->max_bytes = max_bytes;
}
AnswerAccumulator::~AnswerAccumulator() = default;
AnswerAccumulator::AnswerAccumulator(AnswerAccumulator&&) noexcept = default;
AnswerAccumulator& AnswerAccumulator::operator=(AnswerAccumulator&&) noexcept = default;

bool AnswerAccumulator::abandoned() const noexcept { return state_->failed; }

void AnswerAccumulator::feed(std::string_view events) {
  State& s = *state_;
  if (s.failed) return;
  s.pending.append(events);
  // Events end at a blank line; data lines are joined with "\n" (the SSE
  // rules), comments and the event: line are skipped (the data says its type).
  std::size_t start = 0;
  std::string data;
  for (;;) {
    std::size_t end = s.pending.find("\n\n", start);
    const std::size_t crlf = s.pending.find("\r\n\r\n", start);
    std::size_t skip = 2;
    if (crlf != std::string::npos && (end == std::string::npos || crlf < end)) {
      end = crlf;
      skip = 4;
    }
    if (end == std::string::npos) break;
    const std::string_view event(s.pending.data() + start, end - start);
    data.clear();
    bool any = false;
    for (std::size_t pos = 0; pos <= event.size();) {
      std::size_t eol = event.find('\n', pos);
      if (eol == std::string_view::npos) eol = event.size();
      std::string_view line = event.substr(pos, eol - pos);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line.starts_with("data:")) {
        line.remove_prefix(5);
        if (line.starts_with(' ')) line.remove_prefix(1);
        if (any) data += '\n';
        data.append(line);
        any = true;
      }
      pos = eol + 1;
    }
    if (any) s.event(data);
    start = end + skip;
    if (s.failed) return;
  }
  s.pending.erase(0, start);
  if (s.pending.size() > s.max_bytes) s.failed = true;
}

void AnswerAccumulator::State::event(std::string_view data) {
  if (complete && format != Endpoint::responses) {  // nothing may follow the terminal event
    failed = true;
    return;
  }
  if (data == "[DONE]") {
    if (format == Endpoint::chat_completions) complete = true;
    else failed = true;
    return;
  }
  dom::element e;
  if (parser.parse(data.data(), data.size()).get(e) || !e.is_object()) {
    failed = true;
    return;
  }
  dom::element error;
  if (!e["error"].get(error) && !error.is_null()) {  // an upstream that failed mid-stream
    failed = true;
    return;
  }
  switch (format) {
    case Endpoint::chat_completions: chat(e); break;
    case Endpoint::messages: messages(e); break;
    case Endpoint::responses: {
      const std::string_view type = text_of(e, "type");
      dom::element response;
      if (type == "response.completed" && !e["response"].get(response) && response.is_object()) {
        std::string raw = raw_of(response);
        if (hold(raw.size())) {
          this->response = std::move(raw);
          complete = true;
        }
      } else if (type == "response.failed" || type == "response.incomplete" || type == "error") {
        failed = true;
      }
      break;
    }
    default: failed = true;
  }
}

void AnswerAccumulator::State::chat(dom::element chunk) {
  if (id.empty()) {
    id = text_of(chunk, "id");
    model = text_of(chunk, "model");
    fingerprint = text_of(chunk, "system_fingerprint");
    if (chunk["created"].get_int64().get(created)) created = 0;
  }
  dom::element u;
  if (!chunk["usage"].get(u) && u.is_object()) usage = raw_of(u);
  dom::array choices;
  if (chunk["choices"].get_array().get(choices)) return;
  for (dom::element choice : choices) {
    std::int64_t index = 0;
    if (!choice["index"].get_int64().get(index) && index != 0) {  // n > 1 is never cached
      failed = true;
      return;
    }
    if (const std::string_view reason = text_of(choice, "finish_reason"); !reason.empty()) finish_reason = reason;
    dom::element delta;
    if (choice["delta"].get(delta) || !delta.is_object()) continue;
    const std::string_view text = text_of(delta, "content");
    const std::string_view refused = text_of(delta, "refusal");
    if (!hold(text.size() + refused.size())) return;
    content.append(text);
    refusal.append(refused);
    dom::array tool_calls;
    if (delta["tool_calls"].get_array().get(tool_calls)) continue;
    for (dom::element call : tool_calls) {
      std::int64_t i = 0;
      if (call["index"].get_int64().get(i)) i = 0;
      Call& c = calls[i];
      const std::string_view call_id = text_of(call, "id");
      if (!call_id.empty()) c.id = call_id;
      dom::element function;
      if (call["function"].get(function)) continue;
      const std::string_view name = text_of(function, "name"), args = text_of(function, "arguments");
      if (!hold(name.size() + args.size() + call_id.size() + 64)) return;
      c.name.append(name);
      c.arguments.append(args);
    }
  }
}

void AnswerAccumulator::State::messages(dom::element event) {
  const std::string_view type = text_of(event, "type");
  dom::element part;
  if (type == "message_start") {
    if (event["message"].get(part) || !part.is_object()) {
      failed = true;
      return;
    }
    message_start = raw_of(part);
    hold(message_start.size());
  } else if (type == "content_block_start") {
    if (event["content_block"].get(part) || !part.is_object()) {
      failed = true;
      return;
    }
    Block block;
    block.type = text_of(part, "type");
    if (block.type == "tool_use") {
      block.id = text_of(part, "id");
      block.name = text_of(part, "name");
    } else if (block.type == "text") {
      block.text = text_of(part, "text");
    } else if (block.type == "thinking") {
      block.text = text_of(part, "thinking");
    } else {
      block.raw_start = raw_of(part);  // redacted_thinking, server tools: whole at their start
    }
    if (!hold(block.raw_start.size() + block.text.size() + 64)) return;
    blocks.push_back(std::move(block));
  } else if (type == "content_block_delta") {
    if (blocks.empty() || event["delta"].get(part)) {
      failed = true;
      return;
    }
    Block& block = blocks.back();
    const std::string_view kind = text_of(part, "type");
    std::string_view piece;
    if (kind == "text_delta") piece = text_of(part, "text");
    else if (kind == "input_json_delta") piece = text_of(part, "partial_json");
    else if (kind == "thinking_delta") piece = text_of(part, "thinking");
    else if (kind == "signature_delta") {
      block.signature.append(text_of(part, "signature"));
      return;
    } else {
      failed = true;  // a delta this accumulator cannot rebuild: better no entry than a wrong one
      return;
    }
    if (hold(piece.size())) block.text.append(piece);
  } else if (type == "message_delta") {
    if (!event["delta"].get(part)) {
      dom::element v;
      if (!part["stop_reason"].get(v)) stop_reason = raw_of(v);
      if (!part["stop_sequence"].get(v)) stop_sequence = raw_of(v);
    }
    if (!event["usage"].get(part)) {
      std::int64_t n = 0;
      if (!part["output_tokens"].get_int64().get(n)) output_tokens = n;
    }
  } else if (type == "message_stop") {
    complete = !message_start.empty();
    if (!complete) failed = true;
  } else if (type == "error") {
    failed = true;
  }
  // ping, content_block_stop: nothing to keep
}

std::string AnswerAccumulator::State::chat_body(const Usage& reported) const {
  std::string out = R"({"id":)" + json_string(id) + R"(,"object":"chat.completion","created":)" +
                    std::to_string(created) + R"(,"model":)" + json_string(model);
  out += R"(,"choices":[{"index":0,"message":{"role":"assistant","content":)";
  out += content.empty() && (!calls.empty() || !refusal.empty()) ? "null" : json_string(content);
  if (!refusal.empty()) out += R"(,"refusal":)" + json_string(refusal);
  if (!calls.empty()) {
    out += R"(,"tool_calls":[)";
    bool first = true;
    for (const auto& [index, call] : calls) {
      if (!first) out += ',';
      first = false;
      out += R"({"id":)" + json_string(call.id) + R"(,"type":"function","function":{"name":)" +
             json_string(call.name) + R"(,"arguments":)" + json_string(call.arguments) + "}}";
    }
    out += ']';
  }
  out += R"(},"logprobs":null,"finish_reason":)";
  out += finish_reason.empty() ? "null" : json_string(finish_reason);
  out += R"(}],"usage":)";
  out += usage.empty() ? usage_json(reported) : usage;
  if (!fingerprint.empty()) out += R"(,"system_fingerprint":)" + json_string(fingerprint);
  out += '}';
  return out;
}

std::string AnswerAccumulator::State::message_body(const Usage& reported) const {
  // message_start's object, its content, stop fields and output tokens
  // replaced by what the stream added up to.
  dom::parser local;
  dom::object start;
  if (local.parse(message_start).get_object().get(start)) return {};
  std::string out = "{";
  bool first = true;
  auto field = [&](std::string_view key, std::string_view raw) {
    if (!first) out += ',';
    first = false;
    append_json_string(out, key);
    out += ':';
    out += raw;
  };
  for (auto [key, value] : start) {
    if (key == "content") {
      std::string content = "[";
      for (std::size_t i = 0; i < blocks.size(); ++i) {
        const Block& b = blocks[i];
        if (i) content += ',';
        if (!b.raw_start.empty()) content += b.raw_start;
        else if (b.type == "text") content += R"({"type":"text","text":)" + json_string(b.text) + "}";
        else if (b.type == "thinking")
          content += R"({"type":"thinking","thinking":)" + json_string(b.text) + R"(,"signature":)" +
                     json_string(b.signature) + "}";
        else
          content += R"({"type":"tool_use","id":)" + json_string(b.id) + R"(,"name":)" + json_string(b.name) +
                     R"(,"input":)" + (b.text.empty() ? std::string("{}") : b.text) + "}";
      }
      field(key, content + "]");
    } else if (key == "stop_reason") {
      field(key, stop_reason);
    } else if (key == "stop_sequence") {
      field(key, stop_sequence);
    } else if (key == "usage" && value.is_object()) {
      std::string usage = "{";
      bool any = false;
      for (auto [k, v] : dom::object(value)) {
        if (any) usage += ',';
        any = true;
        append_json_string(usage, k);
        usage += ':';
        usage += k == "output_tokens" ? std::to_string(output_tokens >= 0 ? output_tokens : reported.completion_tokens)
                                      : raw_of(v);
      }
      field(key, usage + "}");
    } else {
      field(key, raw_of(value));
    }
  }
  out += '}';
  return out;
}

std::optional<std::string> AnswerAccumulator::finish(const Usage& usage) {
  State& s = *state_;
  if (s.failed || !s.complete) return std::nullopt;
  switch (s.format) {
    case Endpoint::chat_completions: return s.chat_body(usage);
    case Endpoint::messages: {
      std::string body = s.message_body(usage);
      if (body.empty()) return std::nullopt;
      // A tool_use input that did not add up to JSON: no entry rather than a broken one.
      dom::parser check;
      if (check.parse(body).error()) return std::nullopt;
      return body;
    }
    case Endpoint::responses: return s.response;
    default: return std::nullopt;
  }
}

}  // namespace sluice::pipeline
