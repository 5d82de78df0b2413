// A stored answer served again: made fresh (a new id and time, the model the
// request named) and, for a streaming request, replayed as the events its
// format streams, a few words per event, as a provider would have sent them.
#include "cached_answer.hpp"

#include <vector>

#include <simdjson.h>

#include "sluice/core/json_text.hpp"

namespace sluice::pipeline {

namespace asio = boost::asio;
namespace dom = simdjson::dom;

namespace {

constexpr int kWordsPerEvent = 4;
constexpr std::size_t kMaxEventText = 96;      // text without spaces (CJK, code) is cut here
constexpr std::size_t kBatchBytes = 16u << 10;  // what one next() yields at most

template <class Json>  // a dom::element or dom::object
std::string_view text_of(Json e, const char* key) {
  std::string_view out;
  if (e[key].get_string().get(out)) return {};
  return out;
}

template <class Json>
std::string raw_of(Json e) { return simdjson::minify(e); }

// `text` in pieces of a few words, each piece keeping the spaces before its
// next word; a long run without spaces is cut at a UTF-8 boundary.
std::vector<std::string_view> pieces(std::string_view text) {
  std::vector<std::string_view> out;
  std::size_t start = 0, i = 0;
  int words = 0;
  bool in_word = false;
  while (i < text.size()) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    const bool space = c == ' ' || c == '\n' || c == '\t' || c == '\r';
    if (!space && !in_word && ++words > kWordsPerEvent) {
      out.push_back(text.substr(start, i - start));
      start = i;
      words = 1;
    } else if (i - start >= kMaxEventText && (c & 0xC0) != 0x80) {
      out.push_back(text.substr(start, i - start));
      start = i;
      words = space ? 0 : 1;
    }
    in_word = !space;
    ++i;
  }
  if (start < text.size()) out.push_back(text.substr(start));
  return out;
}

std::string named_event(std::string_view name, std::string_view json) {
  std::string out;
  out.reserve(name.size() + json.size() + 16);
  out.append("event: ").append(name).append("\ndata: ").append(json).append("\n\n");
  return out;
}

// `object` with some top-level members' JSON replaced (members absent from
// it are not added).
std::string with_members(dom::object object, std::initializer_list<std::pair<std::string_view, std::string>> members) {
  std::string out = "{";
  bool first = true;
  for (auto [key, value] : object) {
    if (!first) out += ',';
    first = false;
    append_json_string(out, key);
    out += ':';
    bool replaced = false;
    for (const auto& [name, raw] : members)
      if (key == name) {
        out += raw;
        replaced = true;
        break;
      }
    if (!replaced) out += raw_of(value);
  }
  out += '}';
  return out;
}

std::string chat_usage_json(const Usage& usage) {
  return R"({"prompt_tokens":)" + std::to_string(usage.prompt_tokens) + R"(,"completion_tokens":)" +
         std::to_string(usage.completion_tokens) + R"(,"total_tokens":)" +
         std::to_string(usage.prompt_tokens + usage.completion_tokens) + "}";
}

std::optional<std::string> replay_chat(dom::object answer, const Usage& usage, bool include_usage) {
  dom::element choice, message;
  if (answer["choices"].at(0).get(choice) || choice["message"].get(message) || !message.is_object())
    return std::nullopt;
  std::string head = R"({"id":)" + json_string(text_of(answer, "id")) + R"(,"object":"chat.completion.chunk","created":)";
  std::int64_t created = 0;
  if (answer["created"].get_int64().get(created)) created = 0;
  head += std::to_string(created) + R"(,"model":)" + json_string(text_of(answer, "model"));
  if (const std::string_view fp = text_of(answer, "system_fingerprint"); !fp.empty())
    head += R"(,"system_fingerprint":)" + json_string(fp);
  head += R"(,"choices":[{"index":0,"delta":)";
  std::string out;
  auto chunk = [&](std::string_view delta, std::string_view finish = "null") {
    out.append("data: ").append(head).append(delta).append(R"(,"logprobs":null,"finish_reason":)");
    out.append(finish).append("}]}\n\n");
  };
  chunk(R"({"role":"assistant","content":""})");
  for (std::string_view piece : pieces(text_of(message, "content")))
    chunk(R"({"content":)" + json_string(piece) + "}");
  if (const std::string_view refusal = text_of(message, "refusal"); !refusal.empty())
    chunk(R"({"refusal":)" + json_string(refusal) + "}");
  dom::array calls;
  if (!message["tool_calls"].get_array().get(calls)) {
    std::int64_t index = 0;
    for (dom::element call : calls) {
      dom::element function;
      if (call["function"].get(function)) return std::nullopt;
      chunk(R"({"tool_calls":[{"index":)" + std::to_string(index++) + R"(,"id":)" + json_string(text_of(call, "id")) +
            R"(,"type":"function","function":{"name":)" + json_string(text_of(function, "name")) +
            R"(,"arguments":)" + json_string(text_of(function, "arguments")) + "}}]}");
    }
  }
  const std::string_view finish = text_of(choice, "finish_reason");
  chunk("{}", finish.empty() ? std::string("\"stop\"") : json_string(finish));
  if (include_usage) {
    dom::element stored;
    const std::string usage_json = !answer["usage"].get(stored) && stored.is_object() ? raw_of(stored)
                                                                                       : chat_usage_json(usage);
    const std::size_t choices = head.rfind(R"(,"choices":)");
    out.append("data: ").append(head, 0, choices).append(R"(,"choices":[],"usage":)").append(usage_json).append("}\n\n");
  }
  out += "data: [DONE]\n\n";
  return out;
}

std::optional<std::string> replay_messages(dom::object answer) {
  dom::array content;
  if (answer["content"].get_array().get(content)) return std::nullopt;
  dom::element usage;
  std::int64_t output_tokens = 0;
  if (!answer["usage"].get(usage) && usage["output_tokens"].get_int64().get(output_tokens)) output_tokens = 0;
  std::string out = named_event(
      "message_start", R"({"type":"message_start","message":)" + with_members(answer, {{"content", "[]"},
                                                                                       {"stop_reason", "null"},
                                                                                       {"stop_sequence", "null"}}) +
                           "}");
  out += named_event("ping", R"({"type":"ping"})");
  int index = 0;
  for (dom::element block : content) {
    const std::string i = std::to_string(index++);
    const std::string_view type = text_of(block, "type");
    auto start = [&](std::string_view json) {
      out += named_event("content_block_start",
                         R"({"type":"content_block_start","index":)" + i + R"(,"content_block":)" + std::string(json) + "}");
    };
    auto delta = [&](std::string_view json) {
      out += named_event("content_block_delta",
                         R"({"type":"content_block_delta","index":)" + i + R"(,"delta":)" + std::string(json) + "}");
    };
    if (type == "text") {
      start(R"({"type":"text","text":""})");
      for (std::string_view piece : pieces(text_of(block, "text")))
        delta(R"({"type":"text_delta","text":)" + json_string(piece) + "}");
    } else if (type == "tool_use") {
      dom::element input;
      start(R"({"type":"tool_use","id":)" + json_string(text_of(block, "id")) + R"(,"name":)" +
            json_string(text_of(block, "name")) + R"(,"input":{}})");
      if (!block["input"].get(input)) delta(R"({"type":"input_json_delta","partial_json":)" + json_string(raw_of(input)) + "}");
    } else if (type == "thinking") {
      start(R"({"type":"thinking","thinking":""})");
      for (std::string_view piece : pieces(text_of(block, "thinking")))
        delta(R"({"type":"thinking_delta","thinking":)" + json_string(piece) + "}");
      delta(R"({"type":"signature_delta","signature":)" + json_string(text_of(block, "signature")) + "}");
    } else {
      start(raw_of(block));  // redacted_thinking and the like: whole at their start
    }
    out += named_event("content_block_stop", R"({"type":"content_block_stop","index":)" + i + "}");
  }
  dom::element reason, sequence;
  const std::string stop_reason = answer["stop_reason"].get(reason) ? "null" : raw_of(reason);
  const std::string stop_sequence = answer["stop_sequence"].get(sequence) ? "null" : raw_of(sequence);
  out += named_event("message_delta", R"({"type":"message_delta","delta":{"stop_reason":)" + stop_reason +
                                          R"(,"stop_sequence":)" + stop_sequence + R"(},"usage":{"output_tokens":)" +
                                          std::to_string(output_tokens) + "}}");
  out += named_event("message_stop", R"({"type":"message_stop"})");
  return out;
}

std::optional<std::string> replay_responses(dom::object answer) {
  dom::array output;
  if (answer["output"].get_array().get(output)) return std::nullopt;
  std::int64_t sequence = 0;
  std::string out;
  auto event = [&](std::string_view type, std::string_view fields) {
    out += named_event(type, R"({"type":)" + json_string(type) + R"(,"sequence_number":)" +
                                 std::to_string(sequence++) + std::string(fields) + "}");
  };
  const std::string pending =
      with_members(answer, {{"status", "\"in_progress\""}, {"output", "[]"}, {"usage", "null"},
                            {"incomplete_details", "null"}});
  event("response.created", R"(,"response":)" + pending);
  event("response.in_progress", R"(,"response":)" + pending);
  int index = 0;
  for (dom::element item : output) {
    dom::object fields;
    if (item.get_object().get(fields)) return std::nullopt;
    const std::string at = R"(,"output_index":)" + std::to_string(index++);
    const std::string item_id = R"(,"item_id":)" + json_string(text_of(item, "id"));
    const std::string_view type = text_of(item, "type");
    if (type == "message") {
      event("response.output_item.added",
            at + R"(,"item":)" + with_members(fields, {{"status", "\"in_progress\""}, {"content", "[]"}}));
      dom::array parts;
      if (!item["content"].get_array().get(parts)) {
        int part_index = 0;
        for (dom::element part : parts) {
          const std::string where = item_id + at + R"(,"content_index":)" + std::to_string(part_index++);
          const bool refusal = text_of(part, "type") == "refusal";
          const char* key = refusal ? "refusal" : "text";
          const std::string_view text = text_of(part, key);
          event("response.content_part.added",
                where + R"(,"part":)" + (refusal ? R"({"type":"refusal","refusal":""})"
                                                 : R"({"type":"output_text","text":"","annotations":[]})"));
          for (std::string_view piece : pieces(text))
            event(refusal ? "response.refusal.delta" : "response.output_text.delta",
                  where + R"(,"delta":)" + json_string(piece));
          event(refusal ? "response.refusal.done" : "response.output_text.done",
                where + ",\"" + key + "\":" + json_string(text));
          event("response.content_part.done", where + R"(,"part":)" + raw_of(part));
        }
      }
    } else if (type == "function_call") {
      event("response.output_item.added",
            at + R"(,"item":)" + with_members(fields, {{"status", "\"in_progress\""}, {"arguments", "\"\""}}));
      const std::string args = json_string(text_of(item, "arguments"));
      event("response.function_call_arguments.delta", item_id + at + R"(,"delta":)" + args);
      event("response.function_call_arguments.done", item_id + at + R"(,"arguments":)" + args);
    } else {
      event("response.output_item.added", at + R"(,"item":)" + raw_of(item));
    }
    event("response.output_item.done", at + R"(,"item":)" + raw_of(item));
  }
  const bool incomplete = text_of(answer, "status") == "incomplete";
  event(incomplete ? "response.incomplete" : "response.completed", R"(,"response":)" + raw_of(answer));
  return out;
}

// Yields the replay in batches of whole events, then the clean end.
class ReplayStream final : public ChunkStream {
 public:
  ReplayStream(std::string events, Usage usage) : events_(std::move(events)), usage_(usage) {}

  asio::awaitable<Result<std::string>> next() override {
    if (at_ >= events_.size()) co_return std::string();
    std::size_t end = events_.size();
    if (end - at_ > kBatchBytes) {
      end = events_.find("\n\n", at_ + kBatchBytes);
      end = end == std::string::npos ? events_.size() : end + 2;
    }
    std::string out = events_.substr(at_, end - at_);
    at_ = end;
    co_return out;
  }

  Usage usage() const override { return usage_; }

 private:
  std::string events_;
  std::size_t at_ = 0;
  Usage usage_;
};

}  // namespace

bool ends_in_tool_calls(Endpoint format, std::string_view body) {
  dom::parser parser;
  dom::element answer;
  if (parser.parse(body.data(), body.size()).get(answer)) return false;
  switch (format) {
    case Endpoint::chat_completions: {
      dom::element choice;
      if (answer["choices"].at(0).get(choice)) return false;
      dom::array calls;
      return text_of(choice, "finish_reason") == "tool_calls" ||
             (!choice["message"]["tool_calls"].get_array().get(calls) && calls.size() > 0);
    }
    case Endpoint::messages: return text_of(answer, "stop_reason") == "tool_use";
    case Endpoint::responses: {
      dom::array output;
      if (answer["output"].get_array().get(output)) return false;
      for (dom::element item : output)
        if (text_of(item, "type").ends_with("_call")) return true;
      return false;
    }
    default: return false;
  }
}

std::string fresh_answer_id(Endpoint format, std::uint64_t random) {
  static constexpr char kDigits[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
  std::string out = format == Endpoint::messages ? "msg_" : format == Endpoint::responses ? "resp_" : "chatcmpl-";
  // 24 characters from 64 bits, stretched with a multiplicative step.
  for (int i = 0; i < 24; ++i) {
    out += kDigits[random % 62];
    random = random / 62 + (random % 62 + 1) * 0x9e3779b97f4a7c15ull;
  }
  return out;
}

std::optional<std::string> refreshed_body(std::string_view body, std::string_view id, std::int64_t created,
                                          std::string_view model) {
  dom::parser parser;
  dom::object answer;
  if (parser.parse(body.data(), body.size()).get_object().get(answer)) return std::nullopt;
  const std::string time = std::to_string(created);
  return with_members(answer,
                      {{"id", json_string(id)}, {"created", time}, {"created_at", time}, {"model", json_string(model)}});
}

std::optional<std::string> replay_events(Endpoint format, std::string_view body, const Usage& usage,
                                         bool include_usage) {
  dom::parser parser;
  dom::object answer;
  if (parser.parse(body.data(), body.size()).get_object().get(answer)) return std::nullopt;
  switch (format) {
    case Endpoint::chat_completions: return replay_chat(answer, usage, include_usage);
    case Endpoint::messages: return replay_messages(answer);
    case Endpoint::responses: return replay_responses(answer);
    default: return std::nullopt;
  }
}

std::unique_ptr<ChunkStream> replay_stream(std::string events, Usage usage) {
  return std::make_unique<ReplayStream>(std::move(events), usage);
}

}  // namespace sluice::pipeline
