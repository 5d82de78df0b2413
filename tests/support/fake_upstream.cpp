// FakeUpstream: Beast server on its own thread answering like the OpenAI API.
#include "support/fake_upstream.hpp"
#include "support/test_pki.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cctype>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>
#include <openssl/ssl.h>

namespace sluice::test {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using json = nlohmann::json;
using ordered_json = nlohmann::ordered_json;
using Request = http::request<http::string_body>;

constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);

// ---------------------------------------------------------------------------
// What to answer: pure functions of the request and the behaviour.

struct Reply {
  Behaviour behaviour;  // defaults merged with x_fake
  int status = 200;
  std::string body;     // non-stream answers
  bool stream = false;
  std::vector<std::string> lead;     // SSE payloads before the content chunks
  std::vector<std::string> content;  // the chunks drop_after and chunk_delay_ms count
  std::vector<std::string> tail;     // finish and usage chunks
  // Anthropic's and the Responses API's streams: each event named by its
  // "type" (an `event:` line), and no `data: [DONE]` at the end.
  bool named_events = false;
};

std::string error_type(int status) {
  if (status == 401) return "authentication_error";
  if (status == 403) return "permission_error";
  if (status == 429) return "rate_limit_error";
  if (status >= 500) return "server_error";
  return "invalid_request_error";
}

std::string error_json(int status, const std::string& message) {
  ordered_json error = {{"message", message}, {"type", error_type(status)},
                        {"param", nullptr}, {"code", nullptr}};
  return ordered_json{{"error", error}}.dump();
}

// Errors of the fake itself (bad route, unparsable body, typo in x_fake) are
// answered at once, ignoring the behaviour, so they never look like steering.
Reply fake_error(int status, const std::string& message) {
  Reply reply;
  reply.status = status;
  reply.body = error_json(status, message);
  return reply;
}

// Applies x_fake to `b`; returns an error message, empty on success.
std::string apply_overrides(const json& x, Behaviour& b) {
  if (!x.is_object()) return "fake: x_fake must be an object";
  for (const auto& [key, value] : x.items()) {
    auto set_int = [&value](int& field) {
      if (!value.is_number_integer()) return false;
      field = value.get<int>();
      return true;
    };
    auto set_bool = [&value](bool& field) {
      if (!value.is_boolean()) return false;
      field = value.get<bool>();
      return true;
    };
    bool ok = false;
    if (key == "status") ok = set_int(b.status) && b.status >= 100 && b.status <= 999;
    else if (key == "status_until") ok = set_int(b.status_until) && b.status_until >= 0;
    else if (key == "delay_ms") ok = set_int(b.delay_ms);
    else if (key == "stream_chunks") ok = set_int(b.stream_chunks) && b.stream_chunks >= 0;
    else if (key == "chunk_delay_ms") ok = set_int(b.chunk_delay_ms);
    else if (key == "event_pad") ok = set_int(b.event_pad) && b.event_pad >= 0;
    else if (key == "drop_after") ok = set_int(b.drop_after);
    else if (key == "hang") ok = set_bool(b.hang);
    else if (key == "status_every") ok = set_int(b.status_every) && b.status_every >= 0;
    else if (key == "trickle_ms") ok = set_int(b.trickle_ms) && b.trickle_ms >= 0;
    else if (key == "reset_before_head") ok = set_bool(b.reset_before_head);
    else if (key == "reset") ok = set_bool(b.reset);
    else if (key == "pad_bytes") ok = set_int(b.pad_bytes) && b.pad_bytes >= 0;
    else if (key == "retry_after_s") ok = set_int(b.retry_after_s);
    else if (key == "embed_base64") ok = set_bool(b.embed_base64);
    else if (key == "embed_floats_always") ok = set_bool(b.embed_floats_always);
    else if (key == "no_done") ok = set_bool(b.no_done);
    else if (key == "drop_before_events") ok = set_bool(b.drop_before_events);
    else if (key == "close_after_response") ok = set_bool(b.close_after_response);
    else if (key == "azure_prompt_filter") ok = set_bool(b.azure_prompt_filter);
    else if (key == "garbage_event_at") ok = set_int(b.garbage_event_at);
    else if (key == "tool_calls") ok = set_bool(b.tool_calls);
    else if (key == "error_body" && value.is_string()) {
      b.error_body = value.get<std::string>();
      ok = true;
    } else if (key == "success_body" && value.is_string()) {
      b.success_body = value.get<std::string>();
      ok = true;
    } else if (key == "content_type" && value.is_string()) {
      b.content_type = value.get<std::string>();
      ok = true;
    } else {
      return "fake: unknown x_fake field or bad type: " + key;
    }
    if (!ok) return "fake: bad value for x_fake." + key;
  }
  return {};
}

std::string string_field(const json& body, const char* name, const char* fallback) {
  auto it = body.find(name);
  return it != body.end() && it->is_string() ? it->get<std::string>() : fallback;
}

bool flag(const json& body, const json::json_pointer& where) {
  return body.contains(where) && body.at(where).is_boolean() && body.at(where).get<bool>();
}

ordered_json usage_json(int prompt, int completion) {
  return {{"prompt_tokens", prompt}, {"completion_tokens", completion},
          {"total_tokens", prompt + completion}};
}

std::string base64(const std::string& bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (std::size_t i = 0; i < bytes.size(); i += 3) {
    uint32_t group = uint32_t(uint8_t(bytes[i])) << 16;
    if (i + 1 < bytes.size()) group |= uint32_t(uint8_t(bytes[i + 1])) << 8;
    if (i + 2 < bytes.size()) group |= uint32_t(uint8_t(bytes[i + 2]));
    out += kAlphabet[(group >> 18) & 63];
    out += kAlphabet[(group >> 12) & 63];
    out += i + 1 < bytes.size() ? kAlphabet[(group >> 6) & 63] : '=';
    out += i + 2 < bytes.size() ? kAlphabet[group & 63] : '=';
  }
  return out;
}

// The tool call a fake answers with (Behaviour::tool_calls): the first tool
// the request offers, unless the conversation already ends with a tool's
// result, which is then answered with text.
struct FakeToolCall {
  std::string id, name, arguments;
};

std::string first_tool_name(const json& body) {
  auto tools = body.find("tools");
  if (tools == body.end() || !tools->is_array() || tools->empty()) return {};
  const json& tool = tools->front();
  if (tool.contains("function") && tool["function"].is_object()) return tool["function"].value("name", "");
  return tool.value("name", "");  // Anthropic's and the Responses API's flat tools
}

// Whether the last turn gives a tool's result (chat: a tool message;
// Anthropic: a tool_result block; Responses: a function_call_output item).
bool ends_with_tool_result(const json& body) {
  for (const char* key : {"messages", "input"}) {
    auto list = body.find(key);
    if (list == body.end() || !list->is_array() || list->empty()) continue;
    const json& last = list->back();
    if (last.value("role", "") == "tool" || last.value("type", "") == "function_call_output") return true;
    if (last.contains("content") && last["content"].is_array())
      for (const json& block : last["content"])
        if (block.is_object() && block.value("type", "") == "tool_result") return true;
  }
  return false;
}

std::optional<FakeToolCall> tool_call_for(const json& body, const Behaviour& b) {
  if (!b.tool_calls || ends_with_tool_result(body)) return std::nullopt;
  const std::string name = first_tool_name(body);
  if (name.empty()) return std::nullopt;
  return FakeToolCall{"call_fake_1", name, R"({"location":"Paris"})"};
}

// Chat and text completions share everything but the shape of a choice.
void completion_reply(const json& body, bool chat, long number, std::size_t body_size,
                      Reply& reply) {
  const std::string model = string_field(body, "model", "fake-model");
  const std::string id = (chat ? "chatcmpl-fake-" : "cmpl-fake-") + std::to_string(number);
  const char* object = chat ? "chat.completion" : "text_completion";
  const auto created = static_cast<long long>(std::time(nullptr));
  const int prompt_tokens = std::max<int>(1, static_cast<int>(body_size / 4));

  const std::optional<FakeToolCall> call = chat ? tool_call_for(body, reply.behaviour) : std::nullopt;
  auto choice = [chat](const std::string& text, const char* finish) {
    ordered_json c = {{"index", 0}};
    if (chat) c["message"] = {{"role", "assistant"}, {"content", text}};
    else c["text"] = text;
    c["finish_reason"] = finish ? ordered_json(finish) : ordered_json(nullptr);
    c["logprobs"] = nullptr;
    return c;
  };
  if (!flag(body, json::json_pointer("/stream"))) {
    ordered_json answer = {{"id", id}, {"object", object}, {"created", created}, {"model", model}};
    ordered_json c = choice("fake answer " + std::to_string(number), call ? "tool_calls" : "stop");
    if (call) {
      c["message"]["content"] = nullptr;
      c["message"]["tool_calls"] = ordered_json::array(
          {{{"id", call->id}, {"type", "function"}, {"function", {{"name", call->name}, {"arguments", call->arguments}}}}});
    }
    answer["choices"] = ordered_json::array({std::move(c)});
    answer["usage"] = usage_json(prompt_tokens, 5);
    reply.body = answer.dump();
    return;
  }

  reply.stream = true;
  const bool include_usage = flag(body, json::json_pointer("/stream_options/include_usage"));
  auto chunk = [&](ordered_json choices) {
    ordered_json c = {{"id", id}, {"object", chat ? "chat.completion.chunk" : "text_completion"},
                      {"created", created}, {"model", model}, {"choices", std::move(choices)}};
    if (include_usage) c["usage"] = nullptr;  // as OpenAI: null until the last chunk
    return c;
  };
  auto delta_choice = [chat](ordered_json delta, const char* finish) {
    ordered_json c = {{"index", 0}};
    if (chat) c["delta"] = std::move(delta);
    else c["text"] = delta.value("content", "");
    c["logprobs"] = nullptr;
    c["finish_reason"] = finish ? ordered_json(finish) : ordered_json(nullptr);
    return c;
  };
  if (reply.behaviour.azure_prompt_filter) {  // Azure: a first chunk with no choices
    ordered_json filter = {{"choices", ordered_json::array()}, {"created", 0}, {"id", ""}, {"model", ""}, {"object", ""}};
    filter["prompt_filter_results"] = ordered_json::array(
        {{{"prompt_index", 0}, {"content_filter_results", {{"hate", {{"filtered", false}, {"severity", "safe"}}}}}}});
    reply.lead.push_back(filter.dump());
  }
  if (chat) {
    reply.lead.push_back(
        chunk(ordered_json::array({delta_choice({{"role", "assistant"}, {"content", ""}}, nullptr)})).dump());
  }
  const int chunks = reply.behaviour.stream_chunks;
  for (int i = 0; i < chunks; ++i) {
    reply.content.push_back(
        // std::string first: g++ 12 warns falsely (-Wrestrict) on "literal" + std::string&&.
        chunk(ordered_json::array({delta_choice(
                  {{"content", std::string("c").append(std::to_string(i)).append(
                                   i == 0 ? std::size_t(reply.behaviour.pad_bytes) : 0, 'x')}},
                  nullptr)}))
            .dump());
  }
  if (call) {  // the call's id and name, then its arguments in two pieces
    const std::size_t half = call->arguments.size() / 2;
    reply.tail.push_back(chunk(ordered_json::array({delta_choice(
        {{"tool_calls", {{{"index", 0}, {"id", call->id}, {"type", "function"},
                          {"function", {{"name", call->name}, {"arguments", call->arguments.substr(0, half)}}}}}}},
        nullptr)})).dump());
    reply.tail.push_back(chunk(ordered_json::array({delta_choice(
        {{"tool_calls", {{{"index", 0}, {"function", {{"arguments", call->arguments.substr(half)}}}}}}}, nullptr)})).dump());
  }
  reply.tail.push_back(chunk(ordered_json::array({delta_choice(ordered_json::object(), call ? "tool_calls" : "stop")})).dump());
  if (include_usage) {
    ordered_json last = chunk(ordered_json::array());
    last["usage"] = usage_json(prompt_tokens, chunks);
    reply.tail.push_back(last.dump());
  }
}

void embeddings_reply(const json& body, std::size_t body_size, Reply& reply) {
  auto input = body.find("input");
  if (input == body.end()) {
    reply = fake_error(400, "fake: 'input' is required");
    return;
  }
  // A flat array of numbers is one tokenised input, like OpenAI reads it.
  std::size_t count = 1;
  if (input->is_array() && !input->empty() && !(*input)[0].is_number()) count = input->size();

  const Behaviour& b = reply.behaviour;
  const bool asked_base64 = string_field(body, "encoding_format", "float") == "base64";
  const bool base64_out = b.embed_base64 || (asked_base64 && !b.embed_floats_always);
  ordered_json data = ordered_json::array();
  for (std::size_t i = 0; i < count; ++i) {
    const std::array<float, 4> vec = {0.25f, -0.5f, 0.125f * float(i), 1.0f};
    ordered_json item = {{"object", "embedding"}, {"index", i}};
    if (base64_out) {
      std::string bytes;
      for (float v : vec) {
        const auto bits = std::bit_cast<uint32_t>(v);
        for (int shift = 0; shift < 32; shift += 8) bytes += char((bits >> shift) & 0xff);
      }
      item["embedding"] = base64(bytes);
    } else {
      item["embedding"] = vec;
    }
    data.push_back(std::move(item));
  }
  const int prompt_tokens = std::max<int>(1, static_cast<int>(body_size / 4));
  ordered_json answer = {{"object", "list"}, {"data", std::move(data)},
                         {"model", string_field(body, "model", "fake-model")},
                         {"usage", {{"prompt_tokens", prompt_tokens}, {"total_tokens", prompt_tokens}}}};
  reply.body = answer.dump();
}

// Anthropic's Messages API: a Message, or its stream (message_start, ping,
// one text block whose deltas are the content chunks, or a tool_use block,
// message_delta with usage, message_stop). Errors come in Anthropic's shape.
void messages_reply(const json& body, long number, std::size_t body_size, Reply& reply) {
  const std::string model = string_field(body, "model", "fake-model");
  const std::string id = "msg_fake_" + std::to_string(number);
  const int input_tokens = std::max<int>(1, static_cast<int>(body_size / 4));
  const std::optional<FakeToolCall> call = tool_call_for(body, reply.behaviour);
  const char* stop_reason = call ? "tool_use" : "end_turn";
  if (!flag(body, json::json_pointer("/stream"))) {
    ordered_json content = ordered_json::array();
    if (call) {
      content.push_back({{"type", "tool_use"}, {"id", "toolu_fake_1"}, {"name", call->name},
                         {"input", json::parse(call->arguments)}});
    } else {
      content.push_back({{"type", "text"}, {"text", "fake answer " + std::to_string(number)}});
    }
    reply.body = ordered_json{{"id", id}, {"type", "message"}, {"role", "assistant"}, {"model", model},
                              {"content", std::move(content)}, {"stop_reason", stop_reason}, {"stop_sequence", nullptr},
                              {"usage", {{"input_tokens", input_tokens}, {"output_tokens", 5}}}}.dump();
    return;
  }
  reply.stream = true;
  reply.named_events = true;
  ordered_json start = {{"id", id}, {"type", "message"}, {"role", "assistant"}, {"model", model},
                        {"content", ordered_json::array()}, {"stop_reason", nullptr}, {"stop_sequence", nullptr},
                        {"usage", {{"input_tokens", input_tokens}, {"output_tokens", 1}}}};
  reply.lead.push_back(ordered_json{{"type", "message_start"}, {"message", std::move(start)}}.dump());
  reply.lead.push_back(R"({"type":"ping"})");
  if (call) {
    reply.lead.push_back(ordered_json{{"type", "content_block_start"}, {"index", 0},
                                      {"content_block", {{"type", "tool_use"}, {"id", "toolu_fake_1"},
                                                         {"name", call->name}, {"input", json::object()}}}}
                             .dump());
    reply.tail.push_back(ordered_json{{"type", "content_block_delta"}, {"index", 0},
                                      {"delta", {{"type", "input_json_delta"}, {"partial_json", call->arguments}}}}
                             .dump());
  } else {
    reply.lead.push_back(R"({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})");
    for (int i = 0; i < reply.behaviour.stream_chunks; ++i)
      reply.content.push_back(ordered_json{{"type", "content_block_delta"}, {"index", 0},
                                           {"delta", {{"type", "text_delta"}, {"text", "c" + std::to_string(i)}}}}
                                  .dump());
  }
  reply.tail.push_back(R"({"type":"content_block_stop","index":0})");
  reply.tail.push_back(ordered_json{{"type", "message_delta"},
                                    {"delta", {{"stop_reason", stop_reason}, {"stop_sequence", nullptr}}},
                                    {"usage", {{"output_tokens", reply.behaviour.stream_chunks}}}}
                           .dump());
  reply.tail.push_back(R"({"type":"message_stop"})");
}

std::string anthropic_error_json(int status, const std::string& message) {
  const char* type = status == 401   ? "authentication_error"
                     : status == 403 ? "permission_error"
                     : status == 404 ? "not_found_error"
                     : status == 429 ? "rate_limit_error"
                     : status == 529 ? "overloaded_error"
                     : status >= 500 ? "api_error"
                                     : "invalid_request_error";
  return ordered_json{{"type", "error"}, {"error", {{"type", type}, {"message", message}}}}.dump();
}

// The Responses API: a Response, or its stream (response.created, .in_progress,
// a message item whose output_text deltas are the content chunks, or a
// function_call item, ... response.completed with usage), numbered from 0.
void responses_reply(const json& body, long number, std::size_t body_size, Reply& reply) {
  const std::string model = string_field(body, "model", "fake-model");
  const std::string id = "resp_fake_" + std::to_string(number);
  const int input_tokens = std::max<int>(1, static_cast<int>(body_size / 4));
  const std::optional<FakeToolCall> call = tool_call_for(body, reply.behaviour);
  const bool stream = flag(body, json::json_pointer("/stream"));
  const int output_tokens = stream ? reply.behaviour.stream_chunks : 5;
  std::string text;
  if (stream)
    for (int i = 0; i < reply.behaviour.stream_chunks; ++i) text += "c" + std::to_string(i);
  else
    text = "fake answer " + std::to_string(number);
  ordered_json item;
  if (call) {
    item = {{"id", "fc_fake_1"}, {"type", "function_call"}, {"status", "completed"}, {"arguments", call->arguments},
            {"call_id", call->id}, {"name", call->name}};
  } else {
    item = {{"id", "msg_fake_1"}, {"type", "message"}, {"status", "completed"}, {"role", "assistant"},
            {"content", {{{"type", "output_text"}, {"text", text}, {"annotations", ordered_json::array()}}}}};
  }
  auto response = [&](const char* status, ordered_json output, ordered_json usage) {
    return ordered_json{{"id", id}, {"object", "response"}, {"created_at", 1741476542}, {"status", status},
                        {"error", nullptr}, {"incomplete_details", nullptr}, {"model", model},
                        {"output", std::move(output)}, {"usage", std::move(usage)}, {"store", false}};
  };
  const ordered_json usage = {{"input_tokens", input_tokens}, {"input_tokens_details", {{"cached_tokens", 0}}},
                              {"output_tokens", output_tokens}, {"output_tokens_details", {{"reasoning_tokens", 0}}},
                              {"total_tokens", input_tokens + output_tokens}};
  if (!stream) {
    reply.body = response("completed", ordered_json::array({item}), usage).dump();
    return;
  }
  reply.stream = true;
  reply.named_events = true;
  int sequence = 0;
  auto event = [&](const char* type, ordered_json fields) {
    ordered_json e = {{"type", type}, {"sequence_number", sequence++}};
    for (auto& [key, value] : fields.items()) e[key] = value;
    return e.dump();
  };
  reply.lead.push_back(event("response.created", {{"response", response("in_progress", ordered_json::array(), nullptr)}}));
  reply.lead.push_back(event("response.in_progress", {{"response", response("in_progress", ordered_json::array(), nullptr)}}));
  ordered_json added = item;
  added["status"] = "in_progress";
  if (call) {
    added["arguments"] = "";
    reply.lead.push_back(event("response.output_item.added", {{"output_index", 0}, {"item", added}}));
    reply.tail.push_back(event("response.function_call_arguments.delta",
                               {{"item_id", "fc_fake_1"}, {"output_index", 0}, {"delta", call->arguments}}));
    reply.tail.push_back(event("response.function_call_arguments.done",
                               {{"item_id", "fc_fake_1"}, {"output_index", 0}, {"arguments", call->arguments}}));
  } else {
    added["content"] = ordered_json::array();
    reply.lead.push_back(event("response.output_item.added", {{"output_index", 0}, {"item", added}}));
    reply.lead.push_back(event("response.content_part.added",
                               {{"item_id", "msg_fake_1"}, {"output_index", 0}, {"content_index", 0},
                                {"part", {{"type", "output_text"}, {"text", ""}, {"annotations", ordered_json::array()}}}}));
    for (int i = 0; i < reply.behaviour.stream_chunks; ++i)
      reply.content.push_back(event("response.output_text.delta", {{"item_id", "msg_fake_1"}, {"output_index", 0},
                                                                    {"content_index", 0}, {"delta", "c" + std::to_string(i)}}));
    reply.tail.push_back(event("response.output_text.done",
                               {{"item_id", "msg_fake_1"}, {"output_index", 0}, {"content_index", 0}, {"text", text}}));
  }
  reply.tail.push_back(event("response.output_item.done", {{"output_index", 0}, {"item", item}}));
  reply.tail.push_back(event("response.completed", {{"response", response("completed", ordered_json::array({item}), usage)}}));
}

// Azure's routes, /openai/deployments/{deployment}/... and /openai/v1/...,
// answer like OpenAI's /v1/...: the path they stand for, else `path` itself.
std::string openai_path(const std::string& path) {
  static const std::string kDeployments = "/openai/deployments/";
  static const std::string kAzureV1 = "/openai/v1/";
  if (path.starts_with(kAzureV1)) return path.substr(kAzureV1.size() - 4);  // keep "/v1/"
  if (path == "/openai/responses") return "/v1/responses";  // dated preview versions
  if (!path.starts_with(kDeployments)) return path;
  const std::size_t slash = path.find('/', kDeployments.size());
  if (slash == std::string::npos || slash == kDeployments.size()) return path;
  return "/v1" + path.substr(slash);
}

// Ollama's GET /api/tags: the model list, or a native error ({"error":"..."}: a string).
Reply ollama_tags_reply(const Behaviour& b) {
  Reply reply;
  reply.behaviour = b;
  if (b.status != 200) {
    reply.status = b.status;
    reply.body = b.error_body.empty() ? json{{"error", "fake error " + std::to_string(b.status)}}.dump() : b.error_body;
    return reply;
  }
  ordered_json models = ordered_json::array();
  for (const std::string& name : b.tags) {
    models.push_back({{"name", name}, {"model", name}, {"modified_at", "2025-01-01T00:00:00Z"},
                      {"size", 4920753328LL}, {"digest", "0123456789abcdef"},
                      {"details", {{"format", "gguf"}, {"family", "llama"}}}});
  }
  reply.body = ordered_json{{"models", std::move(models)}}.dump();
  return reply;
}

Reply make_reply(const Request& req, const Behaviour& defaults, long number) {
  const std::string target(req.target());
  const std::string path = openai_path(target.substr(0, target.find('?')));
  const bool post = req.method() == http::verb::post;
  if (req.method() == http::verb::get && path == "/api/tags") return ollama_tags_reply(defaults);
  const bool anthropic = path == "/v1/messages" || path == "/v1/messages/count_tokens";
  const bool known = (post && (path == "/v1/chat/completions" || path == "/v1/completions" ||
                               path == "/v1/embeddings" || path == "/v1/responses" || anthropic)) ||
                     (req.method() == http::verb::get && path == "/v1/models");
  if (!known) {
    return fake_error(404, "fake: no route for " + std::string(req.method_string()) + " " + path);
  }
  json body = json::object();
  if (post) {
    body = json::parse(req.body(), nullptr, /*allow_exceptions=*/false);
    if (!body.is_object()) return fake_error(400, "fake: body is not a JSON object");
  }
  Reply reply;
  reply.behaviour = defaults;
  if (auto it = body.find("x_fake"); it != body.end()) {
    if (auto error = apply_overrides(*it, reply.behaviour); !error.empty()) {
      return fake_error(400, error);
    }
  }
  const Behaviour& b = reply.behaviour;
  const bool status_due = (b.status_until == 0 || number <= b.status_until) &&
                          (b.status_every == 0 || (number - 1) % b.status_every == 0);
  if (b.status != 200 && status_due) {
    reply.status = b.status;
    const std::string message = "fake error " + std::to_string(b.status);
    reply.body = !b.error_body.empty() ? b.error_body
                 : anthropic         ? anthropic_error_json(b.status, message)
                                     : error_json(b.status, message);
    return reply;
  }
  if (!b.success_body.empty()) {
    reply.body = b.success_body;
    return reply;
  }
  if (path == "/v1/models") {
    ordered_json model = {{"id", "fake-model"}, {"object", "model"}, {"created", 0}, {"owned_by", "fake"}};
    reply.body = ordered_json{{"object", "list"}, {"data", ordered_json::array({model})}}.dump();
  } else if (path == "/v1/embeddings") {
    embeddings_reply(body, req.body().size(), reply);
  } else if (path == "/v1/messages") {
    messages_reply(body, number, req.body().size(), reply);
  } else if (path == "/v1/messages/count_tokens") {
    reply.body = ordered_json{{"input_tokens", std::max<std::size_t>(1, req.body().size() / 4)}}.dump();
  } else if (path == "/v1/responses") {
    responses_reply(body, number, req.body().size(), reply);
  } else {
    completion_reply(body, path == "/v1/chat/completions", number, req.body().size(), reply);
  }
  return reply;
}

// ---------------------------------------------------------------------------
// Certificate: generated per server (support/test_pki.hpp).

std::string write_temp_file(const std::string& contents) {
  std::string path = (std::filesystem::temp_directory_path() / "sluice-fake-ca-XXXXXX.pem").string();
  const int fd = ::mkstemps(path.data(), 4);
  if (fd < 0) throw std::runtime_error("fake upstream: cannot create " + path);
  const bool ok = ::write(fd, contents.data(), contents.size()) == ssize_t(contents.size());
  ::close(fd);
  if (!ok) throw std::runtime_error("fake upstream: cannot write " + path);
  return path;
}

// ---------------------------------------------------------------------------
// The server: state shared with the test thread sits under mutex_; sockets and
// the connection list are touched only on the io thread.

class ConnectionBase {
 public:
  virtual ~ConnectionBase() = default;
  virtual void shut_down() = 0;
};

class Server {
 public:
  explicit Server(FakeUpstreamOptions options);
  ~Server();

  uint16_t port() const { return port_; }
  bool tls() const { return tls_.has_value(); }
  const std::string& ca_file() const { return ca_file_; }

  void set_behaviour(Behaviour b) {
    std::lock_guard lock(mutex_);
    behaviour_ = std::move(b);
  }
  Behaviour behaviour() const {
    std::lock_guard lock(mutex_);
    return behaviour_;
  }
  std::vector<Recorded> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }
  std::size_t request_count() const {
    std::lock_guard lock(mutex_);
    return requests_.size();
  }
  int accepted() const {
    std::lock_guard lock(mutex_);
    return accepted_;
  }
  int closed() const {
    std::lock_guard lock(mutex_);
    return closed_;
  }
  template <class Pred>
  bool wait(std::chrono::milliseconds timeout, Pred pred) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, pred);
  }
  bool wait_for_closed(int n, std::chrono::milliseconds timeout) {
    return wait(timeout, [&] { return closed_ >= n; });
  }
  bool wait_for_requests(std::size_t n, std::chrono::milliseconds timeout) {
    return wait(timeout, [&] { return requests_.size() >= n; });
  }
  void reset_records() {
    std::lock_guard lock(mutex_);
    requests_.clear();
    accepted_ = closed_ = 0;
  }

  // io thread: records the request, returns its 1-based number and the
  // behaviour to apply.
  std::pair<long, Behaviour> record(const Request& req, int connection_id) {
    Recorded r{std::string(req.method_string()), std::string(req.target()), {}, req.body(),
               connection_id, std::chrono::steady_clock::now()};
    for (const auto& field : req) {
      std::string name(field.name_string());
      for (char& c : name) c = char(std::tolower(static_cast<unsigned char>(c)));
      auto [it, fresh] = r.headers.emplace(name, std::string(field.value()));
      if (!fresh) it->second += ", " + std::string(field.value());
    }
    std::lock_guard lock(mutex_);
    requests_.push_back(std::move(r));
    changed_.notify_all();
    return {++request_number_, behaviour_};
  }
  void count_written(std::size_t n) { bytes_written_ += n; }
  std::size_t bytes_written() const { return bytes_written_; }
  void on_connection_closed() {
    std::lock_guard lock(mutex_);
    ++closed_;
    changed_.notify_all();
  }
  ssl::context& tls_context() { return *tls_; }

 private:
  asio::awaitable<void> accept_loop();
  void stop();

  std::string ca_file_;
  uint16_t port_ = 0;

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  Behaviour behaviour_;
  std::vector<Recorded> requests_;
  int accepted_ = 0;
  int closed_ = 0;
  long request_number_ = 0;
  std::atomic<std::size_t> bytes_written_{0};
  bool stopped_ = false;  // the io thread left run()

  // Declaration order is destruction order in reverse: the TLS context outlives
  // the io_context, and the acceptor dies before it.
  std::optional<ssl::context> tls_;
  asio::io_context io_{1};
  tcp::acceptor acceptor_{io_};
  std::vector<std::weak_ptr<ConnectionBase>> live_;  // io thread only
  int next_connection_id_ = 0;                       // io thread only
  std::thread thread_;
};

// One accepted connection. Two coroutines share it: read_loop owns all reads
// (so a peer close is seen at once, whatever the handler is waiting for) and
// serve parses requests from input_ and writes the answers.
template <class Stream>
class Connection : public ConnectionBase {
 public:
  static constexpr bool kTls = !std::is_same_v<Stream, tcp::socket>;

  template <class... Args>
  Connection(Server& server, int id, Args&&... args)
      : server_(server), id_(id), stream_(std::forward<Args>(args)...),
        wake_(stream_.get_executor()), delay_(stream_.get_executor()) {}

  void shut_down() override { mark_closed(); }

  asio::awaitable<void> serve(std::shared_ptr<Connection> self) {
    if constexpr (kTls) {
      auto [ec] = co_await stream_.async_handshake(ssl::stream_base::server, kAwait);
      if (ec) mark_closed();
    }
    if (closed_) co_return;
    asio::co_spawn(stream_.get_executor(), read_loop(self), asio::detached);
    while (!closed_) {
      std::optional<Request> request = co_await read_request();
      if (!request || !co_await respond(std::move(*request))) break;
    }
    mark_closed();
  }

 private:
  // `self` keeps the connection alive while a read is pending.
  asio::awaitable<void> read_loop([[maybe_unused]] std::shared_ptr<Connection> self) {
    std::array<char, 4096> buffer;
    for (;;) {
      auto [ec, n] = co_await stream_.async_read_some(asio::buffer(buffer), kAwait);
      input_.append(buffer.data(), n);
      if (ec) break;
      wake_.cancel();
    }
    mark_closed();
  }

  // Counts the close once, whoever closed, and wakes every wait of the handler.
  void mark_closed() {
    if (closed_) return;
    closed_ = true;
    error_code ignored;
    beast::get_lowest_layer(stream_).close(ignored);
    wake_.cancel();
    delay_.cancel();
    server_.on_connection_closed();
  }

  asio::awaitable<void> wait_for_input() {
    if (closed_) co_return;
    wake_.expires_at(asio::steady_timer::time_point::max());
    co_await wake_.async_wait(kAwait);
  }

  // false when the connection closed meanwhile.
  asio::awaitable<bool> sleep_ms(int ms) {
    if (ms > 0 && !closed_) {
      delay_.expires_after(std::chrono::milliseconds(ms));
      co_await delay_.async_wait(kAwait);
    }
    co_return !closed_;
  }

  // Closes with a TCP reset (SO_LINGER 0) rather than a FIN.
  void reset_connection() {
    error_code ignored;
    beast::get_lowest_layer(stream_).set_option(asio::socket_base::linger(true, 0), ignored);
    mark_closed();
  }

  asio::awaitable<bool> write(std::string bytes) {
    if (closed_) co_return false;
    if (trickle_ms_ > 0) {  // one byte at a time, each after a pause
      for (char byte : bytes) {
        if (!co_await sleep_ms(trickle_ms_)) co_return false;
        auto [ec, n] = co_await asio::async_write(stream_, asio::buffer(&byte, 1), kAwait);
        if (ec) {
          mark_closed();
          co_return false;
        }
      }
      co_return true;
    }
    auto [ec, n] = co_await asio::async_write(stream_, asio::buffer(bytes), kAwait);
    server_.count_written(n);
    if (ec) mark_closed();
    co_return !ec;
  }

  // One SSE event in one HTTP chunk; `name` (when given) as its event: line.
  asio::awaitable<bool> write_event(std::string payload, std::string name = {}) {
    std::string event = name.empty() ? std::string() : "event: " + name + "\n";
    event += "data: " + payload + "\n\n";
    std::ostringstream chunk;
    chunk << std::hex << event.size() << "\r\n" << event << "\r\n";
    co_return co_await write(chunk.str());
  }

  // An SSE comment event (": xxx...") of `size` bytes in one HTTP chunk.
  asio::awaitable<bool> write_comment(std::size_t size) {
    std::string event = ": " + std::string(size > 4 ? size - 4 : 0, 'x') + "\n\n";
    std::ostringstream chunk;
    chunk << std::hex << event.size() << "\r\n" << event << "\r\n";
    co_return co_await write(chunk.str());
  }

  // write_event, preceded by an event whose data is not JSON where the
  // behaviour's garbage_event_at says. Named streams name each event by its type.
  asio::awaitable<bool> write_stream_event(std::string payload, int garbage_at, bool named = false) {
    if (events_sent_++ == garbage_at) {  // no co_await inside && : g++ 12 miscompiles it
      const bool written = co_await write_event("<html>Bad Gateway</html>");
      if (!written) co_return false;
    }
    std::string name;
    if (named) name = json::parse(payload, nullptr, false).value("type", "");
    const bool written = co_await write_event(std::move(payload), std::move(name));
    co_return written;
  }

  asio::awaitable<std::optional<Request>> read_request() {
    http::request_parser<http::string_body> parser;
    parser.header_limit(64 * 1024);
    parser.body_limit(64 * 1024 * 1024);
    parser.eager(true);
    bool sent_continue = false;
    for (;;) {
      if (!input_.empty()) {
        error_code ec;
        const std::size_t used = parser.put(asio::buffer(input_), ec);
        input_.erase(0, used);
        if (parser.is_done()) co_return parser.release();
        if (ec && ec != http::error::need_more) {
          http::response<http::string_body> res{http::status::bad_request, 11};
          res.set(http::field::content_type, "application/json");
          res.body() = error_json(400, "fake: malformed request: " + ec.message());
          res.keep_alive(false);
          res.prepare_payload();
          std::ostringstream os;
          os << res;
          co_await write(os.str());
          co_return std::nullopt;
        }
        // Clients such as curl wait for this before sending a large body.
        if (parser.is_header_done() && !sent_continue &&
            beast::iequals(parser.get()[http::field::expect], "100-continue")) {
          sent_continue = true;
          if (!co_await write("HTTP/1.1 100 Continue\r\n\r\n")) co_return std::nullopt;
        }
        if (used > 0) continue;
      }
      if (closed_) co_return std::nullopt;
      co_await wait_for_input();
    }
  }

  // Returns whether the connection stays open for another request.
  asio::awaitable<bool> respond(Request req) {
    const auto [number, defaults] = server_.record(req, id_);
    const Reply reply = make_reply(req, defaults, number);
    const Behaviour& b = reply.behaviour;
    if (b.hang) {
      // Until the peer gives up or the server stops: both close the socket.
      while (!closed_) co_await sleep_ms(3600 * 1000);
      co_return false;
    }
    if (b.reset_before_head) {
      reset_connection();
      co_return false;
    }
    if (!co_await sleep_ms(b.delay_ms)) co_return false;
    trickle_ms_ = b.trickle_ms;

    const bool keep_alive = req.keep_alive() && !b.close_after_response;
    http::response<http::string_body> res{static_cast<http::status>(reply.status), req.version()};
    res.set(http::field::server, "sluice-fake-upstream");
    if (b.retry_after_s >= 0) res.set(http::field::retry_after, std::to_string(b.retry_after_s));
    for (const auto& [name, value] : b.response_headers) res.insert(name, value);
    res.keep_alive(keep_alive);
    if (reply.stream) co_return co_await stream(std::move(res), reply) && keep_alive;

    res.set(http::field::content_type, b.content_type.empty() ? "application/json" : b.content_type);
    res.body() = reply.body;
    res.prepare_payload();
    std::ostringstream os;
    if (b.drop_after >= 0) {
      os << res.base() << reply.body.substr(0, static_cast<std::size_t>(b.drop_after));
      co_await write(os.str());
      close_abruptly(b);
      co_return false;
    }
    os << res;
    co_return co_await write(os.str()) && keep_alive;
  }

  asio::awaitable<bool> stream(http::response<http::string_body> res, const Reply& reply) {
    const Behaviour& b = reply.behaviour;
    res.set(http::field::content_type, "text/event-stream");
    res.set(http::field::cache_control, "no-cache");
    res.chunked(true);
    std::ostringstream head;
    head << res.base();
    if (!co_await write(head.str())) co_return false;
    if (b.drop_before_events) {
      close_abruptly(b);
      co_return false;
    }
    events_sent_ = 0;
    const bool named = reply.named_events;
    for (const std::string& event : reply.lead) {
      if (!co_await write_stream_event(event, b.garbage_event_at, named)) co_return false;
    }
    for (std::size_t i = 0; i < reply.content.size(); ++i) {
      if (b.drop_after >= 0 && i == static_cast<std::size_t>(b.drop_after)) break;
      if (!co_await sleep_ms(b.chunk_delay_ms)) co_return false;
      if (b.event_pad > 0 && !co_await write_comment(static_cast<std::size_t>(b.event_pad))) co_return false;
      if (!co_await write_stream_event(reply.content[i], b.garbage_event_at, named)) co_return false;
    }
    if (b.drop_after >= 0 && static_cast<std::size_t>(b.drop_after) <= reply.content.size()) {
      close_abruptly(b);  // no terminating chunk, no [DONE]
      co_return false;
    }
    for (const std::string& event : reply.tail) {
      if (!co_await write_stream_event(event, b.garbage_event_at, named)) co_return false;
    }
    if (!named && !b.no_done && !co_await write_stream_event("[DONE]", b.garbage_event_at)) co_return false;
    co_return co_await write("0\r\n\r\n");
  }

  void close_abruptly(const Behaviour& b) {
    if (b.reset) reset_connection();
    else mark_closed();
  }

  Server& server_;
  const int id_;
  Stream stream_;
  std::string input_;          // bytes read but not yet parsed
  asio::steady_timer wake_;    // cancelled when input arrives or the socket closes
  asio::steady_timer delay_;   // response delays; cancelled on close
  bool closed_ = false;
  int events_sent_ = 0;        // of the stream being written
  int trickle_ms_ = 0;         // of the answer being written (Behaviour::trickle_ms)
};

void log_exception(std::exception_ptr error) {
  if (!error) return;
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fake upstream: coroutine failed: %s\n", e.what());
  }
}

Server::Server(FakeUpstreamOptions options) {
  if (options.tls) {
    // Self-signed, so the test trusts exactly this server.
    const Pem pem = make_certificate({.common_name = "localhost", .ca = true, .server = true});
    tls_.emplace(ssl::context::tls_server);
    tls_->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                      ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    SSL_CTX_set_num_tickets(tls_->native_handle(), 0);  // nothing written after the handshake
    tls_->use_certificate_chain(asio::buffer(pem.certificate));
    tls_->use_private_key(asio::buffer(pem.key), ssl::context::pem);
    ca_file_ = write_temp_file(pem.certificate);
  }
  const tcp::endpoint endpoint(asio::ip::address_v4::loopback(), 0);
  acceptor_.open(endpoint.protocol());
  acceptor_.bind(endpoint);
  acceptor_.listen();
  port_ = acceptor_.local_endpoint().port();
  asio::co_spawn(io_, accept_loop(), log_exception);
  thread_ = std::thread([this] {
    io_.run();
    std::lock_guard lock(mutex_);
    stopped_ = true;
    changed_.notify_all();
  });
}

Server::~Server() {
  stop();
  if (!ca_file_.empty()) std::filesystem::remove(ca_file_);
}

// Closing every socket lets each coroutine finish, so run() returns by itself
// and no suspended coroutine is left for the io_context destructor.
void Server::stop() {
  asio::post(io_, [this] {
    error_code ignored;
    acceptor_.close(ignored);
    for (auto& weak : live_) {
      if (auto connection = weak.lock()) connection->shut_down();
    }
  });
  if (!wait(std::chrono::seconds(5), [this] { return stopped_; })) {
    std::fprintf(stderr, "fake upstream: coroutines still running after 5 s; stopping hard\n");
    io_.stop();
  }
  thread_.join();
}

asio::awaitable<void> Server::accept_loop() {
  for (;;) {
    auto [ec, socket] = co_await acceptor_.async_accept(kAwait);
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) co_return;
    if (ec) continue;
    socket.set_option(tcp::no_delay(true), ec);  // every SSE event leaves at once
    {
      std::lock_guard lock(mutex_);
      ++accepted_;
    }
    std::erase_if(live_, [](const auto& weak) { return weak.expired(); });
    const int id = ++next_connection_id_;
    if (tls_) {
      using Tls = Connection<ssl::stream<tcp::socket>>;
      auto connection = std::make_shared<Tls>(*this, id, std::move(socket), *tls_);
      live_.push_back(connection);
      asio::co_spawn(io_, connection->serve(connection), log_exception);
    } else {
      using Plain = Connection<tcp::socket>;
      auto connection = std::make_shared<Plain>(*this, id, std::move(socket));
      live_.push_back(connection);
      asio::co_spawn(io_, connection->serve(connection), log_exception);
    }
  }
}

}  // namespace

struct FakeUpstream::Impl : Server {
  using Server::Server;
};

FakeUpstream::FakeUpstream(Options options) : impl_(std::make_unique<Impl>(options)) {}
FakeUpstream::~FakeUpstream() = default;

uint16_t FakeUpstream::port() const { return impl_->port(); }

std::string FakeUpstream::base_url() const {
  const std::string port = std::to_string(impl_->port());
  return impl_->tls() ? "https://localhost:" + port + "/v1" : "http://127.0.0.1:" + port + "/v1";
}

std::string FakeUpstream::ca_file() const { return impl_->ca_file(); }
void FakeUpstream::set_behaviour(Behaviour behaviour) { impl_->set_behaviour(std::move(behaviour)); }
Behaviour FakeUpstream::behaviour() const { return impl_->behaviour(); }
std::vector<Recorded> FakeUpstream::requests() const { return impl_->requests(); }
std::size_t FakeUpstream::request_count() const { return impl_->request_count(); }
int FakeUpstream::connections_accepted() const { return impl_->accepted(); }
int FakeUpstream::connections_closed() const { return impl_->closed(); }
std::size_t FakeUpstream::bytes_written() const { return impl_->bytes_written(); }

bool FakeUpstream::wait_for_closed(int n, std::chrono::milliseconds timeout) {
  return impl_->wait_for_closed(n, timeout);
}

bool FakeUpstream::wait_for_requests(std::size_t n, std::chrono::milliseconds timeout) {
  return impl_->wait_for_requests(n, timeout);
}

void FakeUpstream::reset_records() { impl_->reset_records(); }

}  // namespace sluice::test
