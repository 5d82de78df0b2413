// Responses API requests: validation (parse_responses_request) and the
// translation to chat completions that rides along with them.
#include "responses_wire.hpp"

#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "chat_draft.hpp"
#include "json_body.hpp"
#include "sluice/core/json_text.hpp"

namespace sluice::server {

namespace dom = simdjson::dom;

namespace {

std::string indexed(std::string_view base, std::size_t i) { return std::string(base) + "[" + std::to_string(i) + "]"; }

// A message item's content parts as chat parts; text alone when every part
// is text (`all_text`).
std::optional<Error> message_parts(const dom::array& parts, const std::string& param, ChatDraft& draft,
                                   std::string& chat_parts, std::string& text, bool& all_text) {
  std::size_t j = 0;
  for (dom::element part : parts) {
    const std::string part_param = indexed(param, j++);
    if (!part.is_object()) return invalid("each content part must be an object", part_param);
    const std::string_view type = string_at(part, "type");
    std::string chat_part;
    if (type == "input_text" || type == "output_text" || type == "refusal") {
      std::string_view t;
      if (part[type == "refusal" ? "refusal" : "text"].get_string().get(t))
        return invalid("a " + std::string(type) + " part needs its text as a string", part_param);
      text += t;
      chat_part = R"({"type":"text","text":)" + json_string(t) + "}";
    } else if (type == "input_image") {
      all_text = false;
      const std::string_view url = string_at(part, "image_url");
      if (url.empty()) {
        draft.refuse("images by file_id cannot be sent", part_param + ".file_id");
        continue;
      }
      chat_part = R"({"type":"image_url","image_url":{"url":)" + json_string(url);
      if (const std::string_view detail = string_at(part, "detail"); !detail.empty())
        chat_part += R"(,"detail":)" + json_string(detail);
      chat_part += "}}";
    } else if (type.empty()) {
      return invalid("each content part needs a 'type' string", part_param + ".type");
    } else {
      all_text = false;
      draft.refuse("content parts of type '" + std::string(type) + "' cannot be sent", part_param + ".type");
      continue;
    }
    if (!chat_parts.empty()) chat_parts += ',';
    chat_parts += chat_part;
  }
  return std::nullopt;
}

std::optional<Error> message_item(const dom::element& item, const std::string& param, ChatDraft& draft,
                                  std::vector<Message>& texts) {
  std::string_view role = string_at(item, "role");
  if (role != "user" && role != "assistant" && role != "system" && role != "developer")
    return invalid("'role' must be user, assistant, system or developer", param + ".role");
  dom::element content;
  if (item["content"].get(content)) return invalid("a message needs 'content'", param + ".content");
  std::string text, parts;
  bool all_text = true;
  if (content.is_string()) {
    text = std::string(content.get_string().value_unsafe());
  } else if (content.is_array()) {
    if (auto e = message_parts(array_of(content), param + ".content", draft, parts, text, all_text))
      return e;
  } else {
    return invalid("'content' must be a string or an array of parts", param + ".content");
  }
  note(texts, role, text);
  if (role == "assistant") {
    draft.assistant_text(text);
    return std::nullopt;
  }
  // Chat servers beyond OpenAI know system, not developer.
  std::string message = R"({"role":")" + std::string(role == "developer" ? "system" : role) + R"(","content":)";
  if (all_text || role != "user") append_json_string(message, text);
  else message += "[" + parts + "]";
  draft.add(message + "}");
  return std::nullopt;
}

// function_call_output: a string, or parts of which only text can go.
std::optional<Error> call_output(const dom::element& item, const std::string& param, ChatDraft& draft,
                                 std::vector<Message>& texts) {
  const std::string_view call_id = string_at(item, "call_id");
  if (call_id.empty()) return invalid("a function_call_output needs a 'call_id' string", param + ".call_id");
  dom::element output;
  if (item["output"].get(output)) return invalid("a function_call_output needs an 'output'", param + ".output");
  std::string text;
  if (output.is_string()) {
    text = std::string(output.get_string().value_unsafe());
  } else if (output.is_array()) {
    std::string ignored;
    bool all_text = true;
    if (auto e = message_parts(array_of(output), param + ".output", draft, ignored, text, all_text))
      return e;
    if (!all_text) draft.refuse("function outputs other than text cannot be sent", param + ".output");
  } else {
    return invalid("'output' must be a string or an array of parts", param + ".output");
  }
  note(texts, "tool", text);
  draft.add(R"({"role":"tool","tool_call_id":)" + json_string(call_id) + R"(,"content":)" + json_string(text) + "}");
  return std::nullopt;
}

std::optional<Error> read_input(const dom::object& root, ChatDraft& draft, std::vector<Message>& texts) {
  dom::element input;
  if (root["input"].get(input) || input.is_null()) return invalid("you must provide an 'input' parameter", "input");
  if (input.is_string()) {
    const std::string_view text = input.get_string().value_unsafe();
    note(texts, "user", text);
    draft.add(R"({"role":"user","content":)" + json_string(text) + "}");
    return std::nullopt;
  }
  if (!input.is_array()) return invalid("'input' must be a string or an array of items", "input");
  std::size_t i = 0;
  for (dom::element item : array_of(input)) {
    const std::string param = indexed("input", i++);
    if (!item.is_object()) return invalid("each input item must be an object", param);
    std::string_view type = string_at(item, "type");
    if (type.empty() && !string_at(item, "role").empty()) type = "message";
    if (type == "message") {
      if (auto e = message_item(item, param, draft, texts)) return e;
    } else if (type == "function_call") {
      const std::string_view call_id = string_at(item, "call_id"), name = string_at(item, "name");
      std::string_view arguments;
      if (call_id.empty() || name.empty() || item["arguments"].get_string().get(arguments))
        return invalid("a function_call needs 'call_id', 'name' and 'arguments' strings", param);
      note(texts, "assistant", arguments);
      draft.tool_call(call_id, name, arguments);
    } else if (type == "function_call_output") {
      if (auto e = call_output(item, param, draft, texts)) return e;
    } else if (type == "reasoning") {
      // Another model's reasoning cannot be handed on; the target reasons anew.
    } else if (type.empty()) {
      return invalid("each input item needs a 'type' (or a 'role')", param + ".type");
    } else {
      draft.refuse("input items of type '" + std::string(type) + "' cannot be sent", param + ".type");
    }
  }
  return std::nullopt;
}

// Function tools as chat tools; tool_choice; both echoed as given.
std::optional<Error> read_tools(const dom::object& root, ChatDraft& draft, std::vector<Message>& texts,
                                std::string& chat, std::string& echo) {
  bool any = false;
  if (auto tools = member(root, "tools")) {
    if (!tools->is_array()) return invalid("'tools' must be an array", "tools");
    std::string list;
    std::size_t i = 0;
    for (dom::element tool : array_of(*tools)) {
      const std::string param = indexed("tools", i++);
      const std::string_view type = string_at(tool, "type");
      if (!tool.is_object() || type.empty()) return invalid("each tool must be an object with a 'type'", param);
      if (type != "function") {
        draft.refuse("built-in tools ('" + std::string(type) + "') cannot be offered", param + ".type");
        continue;
      }
      const std::string_view name = string_at(tool, "name");
      if (name.empty()) return invalid("a function tool needs a 'name' string", param + ".name");
      std::string function = R"({"name":)" + json_string(name);
      if (const std::string_view d = string_at(tool, "description"); !d.empty()) function += R"(,"description":)" + json_string(d);
      if (auto schema = member(tool, "parameters")) {
        if (!schema->is_object()) return invalid("'parameters' must be an object", param + ".parameters");
        const std::string text = simdjson::to_string(*schema);
        note(texts, "tools", text);
        function += R"(,"parameters":)" + text;
      }
      if (auto strict = member(tool, "strict"); strict && strict->is_bool())
        function += std::string(R"(,"strict":)") + (strict->get_bool().value_unsafe() ? "true" : "false");
      if (any) list += ',';
      any = true;
      list += R"({"type":"function","function":)" + function + "}}";
    }
    echo += R"(,"tools":)" + simdjson::to_string(*tools);
    if (any) chat += R"(,"tools":[)" + list + "]";
  } else {
    echo += R"(,"tools":[])";
  }
  auto choice = member(root, "tool_choice");
  if (!choice) {
    echo += R"(,"tool_choice":"auto")";
    return std::nullopt;
  }
  echo += R"(,"tool_choice":)" + simdjson::to_string(*choice);
  std::string chat_choice;
  if (choice->is_string()) {
    const std::string_view mode = choice->get_string().value_unsafe();
    if (mode != "auto" && mode != "none" && mode != "required")
      return invalid("'tool_choice' must be auto, none, required or an object", "tool_choice");
    chat_choice = json_string(mode);
  } else if (choice->is_object()) {
    const std::string_view type = string_at(*choice, "type");
    if (type == "function") {
      if (string_at(*choice, "name").empty()) return invalid("a function tool_choice needs a 'name'", "tool_choice.name");
      chat_choice = R"({"type":"function","function":{"name":)" + json_string(string_at(*choice, "name")) + "}}";
    } else {
      draft.refuse("a tool_choice of type '" + std::string(type) + "' cannot be honoured", "tool_choice");
    }
  } else {
    return invalid("'tool_choice' must be a string or an object", "tool_choice");
  }
  if (any && !chat_choice.empty()) chat += R"(,"tool_choice":)" + chat_choice;
  return std::nullopt;
}

// What only the Responses API itself can honour.
void refuse_stateful(const dom::object& root, ChatDraft& draft) {
  bool flag = false;
  if (!root["store"].get_bool().get(flag) && flag)
    draft.refuse("'store': true keeps the response at OpenAI; a stateless route cannot", "store");
  if (member(root, "previous_response_id"))
    draft.refuse("previous_response_id needs the stored response; send the conversation in 'input'",
                 "previous_response_id");
  if (member(root, "conversation")) draft.refuse("conversations are kept by the Responses API", "conversation");
  if (member(root, "prompt")) draft.refuse("stored prompt templates are kept by the Responses API", "prompt");
  if (!root["background"].get_bool().get(flag) && flag) draft.refuse("background responses cannot be run", "background");
  std::int64_t top = 0;
  if (!root["top_logprobs"].get_int64().get(top) && top > 0) draft.refuse("logprobs cannot be returned", "top_logprobs");
}

// Sampling, output and the rest: checked, translated for chat, echoed.
std::optional<Error> read_options(const dom::object& root, LlmRequest& req, std::string& chat, std::string& echo) {
  if (auto e = member(root, "stream")) {
    if (!e->is_bool()) return invalid("'stream' must be a boolean", "stream");
    req.stream = e->get_bool().value_unsafe();
  }
  for (const char* key : {"store", "background", "parallel_tool_calls"})
    if (auto e = member(root, key); e && !e->is_bool()) return invalid(std::string("'") + key + "' must be a boolean", key);
  if (auto e = member(root, "instructions"); e && !e->is_string())
    return invalid("'instructions' must be a string", "instructions");
  if (auto e = member(root, "max_output_tokens")) {
    if (!e->is_int64() || e->get_int64().value_unsafe() < 0)
      return invalid("'max_output_tokens' must be a non-negative integer", "max_output_tokens");
    req.max_tokens = e->get_int64().value_unsafe();
    chat += R"(,"max_tokens":)" + std::to_string(*req.max_tokens);
  }
  auto echoed = [&](const char* key, std::string_view fallback) {
    auto e = member(root, key);
    echo += std::string(",\"") + key + "\":" + (e ? simdjson::to_string(*e) : std::string(fallback));
    return e;
  };
  echoed("instructions", "null");
  echoed("max_output_tokens", "null");
  for (const char* key : {"temperature", "top_p"}) {
    auto e = echoed(key, "1");
    if (!e) continue;
    if (!e->is_number()) return invalid(std::string("'") + key + "' must be a number", key);
    chat += std::string(",\"") + key + "\":" + simdjson::to_string(*e);
  }
  if (auto p = echoed("parallel_tool_calls", "true")) chat += R"(,"parallel_tool_calls":)" + simdjson::to_string(*p);
  if (auto m = echoed("metadata", "{}"); m && !m->is_object()) return invalid("'metadata' must be an object", "metadata");
  if (auto u = echoed("user", "null")) {
    if (!u->is_string()) return invalid("'user' must be a string", "user");
    chat += R"(,"user":)" + simdjson::to_string(*u);
  }
  echo += R"(,"previous_response_id":null,"store":false,"background":false,"truncation":"disabled")";

  std::string_view effort;
  if (auto reasoning = member(root, "reasoning")) {
    if (!reasoning->is_object()) return invalid("'reasoning' must be an object", "reasoning");
    effort = string_at(*reasoning, "effort");
  }
  echo += R"(,"reasoning":{"effort":)" + (effort.empty() ? std::string("null") : json_string(effort)) + R"(,"summary":null})";
  if (!effort.empty()) chat += R"(,"reasoning_effort":)" + json_string(effort);

  std::string format = R"({"type":"text"})";
  if (auto text = member(root, "text")) {
    if (!text->is_object()) return invalid("'text' must be an object", "text");
    if (auto f = member(*text, "format")) {
      const std::string_view type = string_at(*f, "type");
      if (type == "json_schema") {
        auto schema = member(*f, "schema");
        if (!schema || !schema->is_object() || string_at(*f, "name").empty())
          return invalid("a json_schema format needs a 'name' and a 'schema' object", "text.format");
        std::string json_schema = R"({"name":)" + json_string(string_at(*f, "name")) + R"(,"schema":)" +
                                  simdjson::to_string(*schema);
        if (auto strict = member(*f, "strict"); strict && strict->is_bool())
          json_schema += std::string(R"(,"strict":)") + (strict->get_bool().value_unsafe() ? "true" : "false");
        if (const std::string_view d = string_at(*f, "description"); !d.empty())
          json_schema += R"(,"description":)" + json_string(d);
        chat += R"(,"response_format":{"type":"json_schema","json_schema":)" + json_schema + "}}";
      } else if (type == "json_object") {
        chat += R"(,"response_format":{"type":"json_object"})";
      } else if (type != "text") {
        return invalid("'text.format.type' must be text, json_object or json_schema", "text.format.type");
      }
      format = simdjson::to_string(*f);
    }
  }
  echo += R"(,"text":{"format":)" + format + "}";
  if (req.stream) chat += R"(,"stream":true,"stream_options":{"include_usage":true})";
  return std::nullopt;
}

}  // namespace

Result<ResponsesRequest> parse_responses_request(std::string body) {
  ResponsesRequest out;
  LlmRequest& req = out.request;
  auto parsed = begin_request(body, Endpoint::responses, req);
  if (!parsed) return std::move(parsed).error();
  const dom::object root = *parsed;
  ChatDraft draft;
  std::string chat_options;
  if (auto instructions = member(root, "instructions"); instructions && instructions->is_string()) {
    const std::string_view text = instructions->get_string().value_unsafe();
    note(req.messages, "system", text);
    if (!text.empty()) draft.add(R"({"role":"system","content":)" + json_string(text) + "}");
  }
  if (auto e = read_input(root, draft, req.messages)) return std::move(*e);
  if (auto e = read_tools(root, draft, req.messages, chat_options, out.echo)) return std::move(*e);
  if (auto e = read_options(root, req, chat_options, out.echo)) return std::move(*e);
  refuse_stateful(root, draft);
  req.include_usage = req.stream;

  draft.finish(req, chat_options);
  end_request(std::move(body), req);
  return out;
}

}  // namespace sluice::server
