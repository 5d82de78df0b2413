// Anthropic Messages requests: validation (parse_messages_request) and the
// translation to chat completions that rides along with them.
#include "anthropic_wire.hpp"

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

std::string at(std::string_view base, std::size_t index) { return std::string(base) + "." + std::to_string(index); }

// A content block's type: the block must be an object with a "type" string.
std::optional<Error> block_type(const dom::element& block, const std::string& param, std::string_view& type) {
  if (!block.is_object()) return invalid("each content block must be an object", param);
  type = string_at(block, "type");
  if (type.empty()) return invalid("each content block needs a 'type' string", param + ".type");
  return std::nullopt;
}

std::string text_part(std::string_view text) {
  std::string part = R"({"type":"text","text":)";
  append_json_string(part, text);
  return part + "}";
}

std::string image_part(std::string_view url) {
  std::string part = R"({"type":"image_url","image_url":{"url":)";
  append_json_string(part, url);
  return part + "}}";
}

// An image or document block's source as a chat content part; "" with the
// draft refused when chat completions has no form for it.
std::optional<Error> source_part(const dom::element& block, std::string_view type, const std::string& param,
                                 ChatDraft& draft, std::string& part) {
  dom::element source;
  if (block["source"].get(source) || !source.is_object())
    return invalid("'source' must be an object", param + ".source");
  const std::string_view kind = string_at(source, "type");
  if (kind == "base64") {
    const std::string_view media = string_at(source, "media_type"), data = string_at(source, "data");
    if (media.empty() || data.empty())
      return invalid("a base64 source needs 'media_type' and 'data' strings", param + ".source");
    const std::string url = "data:" + std::string(media) + ";base64," + std::string(data);
    if (type == "image") {
      part = image_part(url);
    } else {
      part = R"({"type":"file","file":{"filename":"document.pdf","file_data":)";
      append_json_string(part, url);
      part += "}}";
    }
  } else if (kind == "url" && type == "image") {
    const std::string_view url = string_at(source, "url");
    if (url.empty()) return invalid("a url source needs a 'url' string", param + ".source.url");
    part = image_part(url);
  } else if (kind == "text" && type == "document") {
    part = text_part(string_at(source, "data"));
  } else if (kind.empty()) {
    return invalid("'source.type' must be a string", param + ".source.type");
  } else {
    draft.refuse(std::string(type) + " sources of type '" + std::string(kind) + "' cannot be sent", param + ".source.type");
  }
  return std::nullopt;
}

// The text of a tool_result's content: a string, or text blocks joined.
std::optional<Error> tool_result_text(const dom::element& block, const std::string& param, ChatDraft& draft,
                                      std::string& text) {
  dom::element content;
  if (block["content"].get(content) || content.is_null()) return std::nullopt;
  if (content.is_string()) {
    text = std::string(content.get_string().value_unsafe());
    return std::nullopt;
  }
  if (!content.is_array()) return invalid("'content' must be a string or an array of blocks", param + ".content");
  std::size_t k = 0;
  for (dom::element inner : array_of(content)) {
    const std::string inner_param = at(param + ".content", k++);
    const std::string_view type = string_at(inner, "type");
    if (type == "text") {
      if (!text.empty()) text += '\n';
      text += string_at(inner, "text");
    } else if (type.empty()) {
      return invalid("each block needs a 'type' string", inner_param + ".type");
    } else {
      draft.refuse("tool results with " + std::string(type) + " blocks cannot be sent", inner_param + ".type");
    }
  }
  return std::nullopt;
}

// A user turn's blocks: tool results become chat tool messages (first, as
// chat wants them right after the assistant's calls), the rest one user
// message.
std::optional<Error> user_blocks(const dom::array& blocks, const std::string& param, ChatDraft& draft,
                                 std::vector<Message>& texts) {
  std::string parts;
  std::size_t part_count = 0;
  std::string only_text;
  std::size_t j = 0;
  for (dom::element block : blocks) {
    const std::string block_param = at(param, j++);
    std::string_view type;
    if (auto e = block_type(block, block_param, type)) return e;
    std::string part;
    if (type == "text") {
      std::string_view text;
      if (block["text"].get_string().get(text)) return invalid("a text block needs a 'text' string", block_param + ".text");
      note(texts, "user", text);
      part = text_part(text);
      only_text = text;
    } else if (type == "image" || type == "document") {
      if (auto e = source_part(block, type, block_param, draft, part)) return e;
    } else if (type == "tool_result") {
      const std::string_view id = string_at(block, "tool_use_id");
      if (id.empty()) return invalid("a tool_result needs a 'tool_use_id' string", block_param + ".tool_use_id");
      std::string text;
      if (auto e = tool_result_text(block, block_param, draft, text)) return e;
      note(texts, "tool", text);
      std::string message = R"({"role":"tool","tool_call_id":)";
      append_json_string(message, id);
      message += R"(,"content":)";
      append_json_string(message, text);
      draft.add(message + "}");
    } else {
      draft.refuse("content blocks of type '" + std::string(type) + "' cannot be sent", block_param + ".type");
    }
    if (part.empty()) continue;
    if (part_count++) parts += ',';
    parts += part;
  }
  if (part_count == 0) return std::nullopt;
  std::string message = R"({"role":"user","content":)";
  // One text block reads best as plain content, which every chat server takes.
  if (part_count == 1 && parts.starts_with(R"({"type":"text")")) append_json_string(message, only_text);
  else message += "[" + parts + "]";
  draft.add(message + "}");
  return std::nullopt;
}

// An assistant turn's blocks: text joined, tool_use blocks as tool_calls
// (the input object as the arguments string), thinking dropped.
std::optional<Error> assistant_blocks(const dom::array& blocks, const std::string& param, ChatDraft& draft,
                                      std::vector<Message>& texts) {
  struct Call {
    std::string_view id, name;
    std::string arguments;
  };
  std::string text;
  std::vector<Call> calls;
  std::size_t j = 0;
  for (dom::element block : blocks) {
    const std::string block_param = at(param, j++);
    std::string_view type;
    if (auto e = block_type(block, block_param, type)) return e;
    if (type == "text") {
      std::string_view t;
      if (block["text"].get_string().get(t)) return invalid("a text block needs a 'text' string", block_param + ".text");
      text += t;
    } else if (type == "tool_use") {
      Call call{string_at(block, "id"), string_at(block, "name"), "{}"};
      if (call.id.empty() || call.name.empty()) return invalid("a tool_use block needs 'id' and 'name' strings", block_param);
      if (auto input = member(block, "input")) {
        if (!input->is_object()) return invalid("'input' must be an object", block_param + ".input");
        call.arguments = simdjson::to_string(*input);
      }
      note(texts, "assistant", call.arguments);
      calls.push_back(std::move(call));
    } else if (type != "thinking" && type != "redacted_thinking") {
      // (The target cannot take thinking back; its own reasoning is its own.)
      draft.refuse("content blocks of type '" + std::string(type) + "' cannot be sent", block_param + ".type");
    }
  }
  note(texts, "assistant", text);
  draft.assistant_text(text);
  for (const Call& call : calls) draft.tool_call(call.id, call.name, call.arguments);
  return std::nullopt;
}

std::optional<Error> read_system(const dom::object& root, ChatDraft& draft, std::vector<Message>& texts) {
  dom::element system;
  if (root["system"].get(system) || system.is_null()) return std::nullopt;
  std::string text;
  if (system.is_string()) {
    text = std::string(system.get_string().value_unsafe());
  } else if (system.is_array()) {
    std::size_t j = 0;
    for (dom::element block : array_of(system)) {
      std::string_view t;
      if (string_at(block, "type") != "text" || block["text"].get_string().get(t))
        return invalid("system blocks must be text blocks with a 'text' string", at("system", j));
      ++j;
      if (!text.empty()) text += "\n\n";
      text += t;
    }
  } else {
    return invalid("'system' must be a string or an array of text blocks", "system");
  }
  note(texts, "system", text);
  if (!text.empty()) draft.add(R"({"role":"system","content":)" + json_string(text) + "}");
  return std::nullopt;
}

std::optional<Error> read_messages(const dom::object& root, ChatDraft& draft, std::vector<Message>& texts) {
  dom::element messages;
  if (root["messages"].get(messages) || !messages.is_array())
    return invalid("'messages' must be an array of messages", "messages");
  if (array_of(messages).size() == 0)
    return invalid("'messages' must contain at least one message", "messages");
  std::size_t i = 0;
  for (dom::element m : array_of(messages)) {
    const std::string param = at("messages", i++);
    if (!m.is_object()) return invalid("each message must be an object", param);
    const std::string_view role = string_at(m, "role");
    if (role != "user" && role != "assistant")
      return invalid("'role' must be \"user\" or \"assistant\"", param + ".role");
    dom::element content;
    if (m["content"].get(content)) return invalid("a message needs 'content'", param + ".content");
    if (content.is_string()) {
      const std::string_view text = content.get_string().value_unsafe();
      note(texts, role, text);
      if (role == "assistant") draft.assistant_text(text);
      else draft.add(R"({"role":"user","content":)" + json_string(text) + "}");
      continue;
    }
    if (!content.is_array()) return invalid("'content' must be a string or an array of blocks", param + ".content");
    const dom::array blocks = array_of(content);
    auto problem = role == "user" ? user_blocks(blocks, param + ".content", draft, texts)
                                  : assistant_blocks(blocks, param + ".content", draft, texts);
    if (problem) return problem;
  }
  return std::nullopt;
}

// tools and tool_choice: custom tools as function tools.
std::optional<Error> read_tools(const dom::object& root, ChatDraft& draft, std::vector<Message>& texts,
                                std::string& out) {
  dom::element tools;
  bool any = false;
  if (!root["tools"].get(tools) && !tools.is_null()) {
    if (!tools.is_array()) return invalid("'tools' must be an array", "tools");
    std::string list;
    std::size_t i = 0;
    for (dom::element tool : array_of(tools)) {
      const std::string param = at("tools", i++);
      if (!tool.is_object()) return invalid("each tool must be an object", param);
      const std::string_view type = string_at(tool, "type"), name = string_at(tool, "name");
      if (name.empty()) return invalid("a tool needs a 'name' string", param + ".name");
      if (!type.empty() && type != "custom") {
        draft.refuse("the Anthropic tool '" + std::string(type) + "' cannot be offered", param + ".type");
        continue;
      }
      dom::element schema;
      std::string parameters = R"({"type":"object","properties":{}})";
      if (!tool["input_schema"].get(schema)) {
        if (!schema.is_object()) return invalid("'input_schema' must be an object", param + ".input_schema");
        parameters = simdjson::to_string(schema);
      }
      note(texts, "tools", parameters);
      if (any) list += ',';
      any = true;
      list += R"({"type":"function","function":{"name":)" + json_string(name);
      if (const std::string_view d = string_at(tool, "description"); !d.empty()) {
        note(texts, "tools", d);
        list += R"(,"description":)" + json_string(d);
      }
      list += R"(,"parameters":)" + parameters + "}}";
    }
    if (any) out += R"(,"tools":[)" + list + "]";
  }
  dom::element choice;
  if (root["tool_choice"].get(choice) || choice.is_null()) return std::nullopt;
  const std::string_view type = string_at(choice, "type");
  if (!choice.is_object() || (type != "auto" && type != "any" && type != "tool" && type != "none"))
    return invalid("'tool_choice' must be an object whose type is auto, any, tool or none", "tool_choice");
  if (type == "tool" && string_at(choice, "name").empty())
    return invalid("a tool_choice of type tool needs a 'name'", "tool_choice.name");
  if (!any) return std::nullopt;  // no tools: nothing to choose among
  if (type == "auto") out += R"(,"tool_choice":"auto")";
  else if (type == "any") out += R"(,"tool_choice":"required")";
  else if (type == "none") out += R"(,"tool_choice":"none")";
  else out += R"(,"tool_choice":{"type":"function","function":{"name":)" + json_string(string_at(choice, "name")) + "}}";
  bool serial = false;
  if (!choice["disable_parallel_tool_use"].get_bool().get(serial) && serial) out += R"(,"parallel_tool_calls":false)";
  return std::nullopt;
}

// Sampling and the rest of the top level, checked; what chat takes goes to `out`.
std::optional<Error> read_options(const dom::object& root, Endpoint endpoint, LlmRequest& req, ChatDraft& draft,
                                  std::string& out) {
  dom::element e;
  if (endpoint == Endpoint::messages) {
    if (root["max_tokens"].get(e) || e.is_null()) return invalid("'max_tokens' is required", "max_tokens");
    if (!e.is_int64() || e.get_int64().value_unsafe() < 0)
      return invalid("'max_tokens' must be a non-negative integer", "max_tokens");
    req.max_tokens = e.get_int64().value_unsafe();
    if (*req.max_tokens == 0) draft.refuse("max_tokens 0 (warming the prompt cache) cannot be honoured", "max_tokens");
    out += R"(,"max_tokens":)" + std::to_string(*req.max_tokens);
    if (!root["stream"].get(e) && !e.is_null()) {
      if (!e.is_bool()) return invalid("'stream' must be a boolean", "stream");
      req.stream = e.get_bool().value_unsafe();
    }
  }
  for (const char* key : {"temperature", "top_p", "top_k"}) {
    if (root[key].get(e) || e.is_null()) continue;
    if (!e.is_number()) return invalid(std::string("'") + key + "' must be a number", key);
    if (std::string_view(key) != "top_k") out += std::string(",\"") + key + "\":" + simdjson::to_string(e);
  }
  if (!root["stop_sequences"].get(e) && !e.is_null()) {
    if (!e.is_array()) return invalid("'stop_sequences' must be an array of strings", "stop_sequences");
    for (dom::element s : array_of(e))
      if (!s.is_string()) return invalid("'stop_sequences' must be an array of strings", "stop_sequences");
    if (array_of(e).size() > 0) out += R"(,"stop":)" + simdjson::to_string(e);
  }
  if (!root["metadata"].get(e) && !e.is_null()) {
    if (!e.is_object()) return invalid("'metadata' must be an object", "metadata");
    dom::element user;
    if (!e["user_id"].get(user) && !user.is_null()) {
      if (!user.is_string()) return invalid("'metadata.user_id' must be a string", "metadata.user_id");
      out += R"(,"user":)" + json_string(user.get_string().value_unsafe());
    }
  }
  if (!root["thinking"].get(e) && !e.is_null() && !e.is_object())
    return invalid("'thinking' must be an object", "thinking");
  if (!root["mcp_servers"].get(e) && e.is_array() && array_of(e).size() > 0)
    draft.refuse("MCP servers run at Anthropic and cannot be used", "mcp_servers");
  if (member(root, "container")) draft.refuse("containers run at Anthropic and cannot be used", "container");
  if (!root["output_format"].get(e) && !e.is_null()) {
    dom::element schema;
    if (string_at(e, "type") != "json_schema" || e["schema"].get(schema) || !schema.is_object())
      return invalid("'output_format' must be {\"type\":\"json_schema\",\"schema\":{...}}", "output_format");
    out += R"(,"response_format":{"type":"json_schema","json_schema":{"name":"output","schema":)" +
           simdjson::to_string(schema) + "}}";
  }
  if (req.stream) out += R"(,"stream":true,"stream_options":{"include_usage":true})";
  return std::nullopt;
}

}  // namespace

std::string estimated_count_tokens_body(const LlmRequest& req) {
  const std::int64_t tokens = estimate_tokens(req.prompt_chars()) + 3 * static_cast<std::int64_t>(req.messages.size());
  return R"({"input_tokens":)" + std::to_string(tokens) + "}";
}

Result<LlmRequest> parse_messages_request(Endpoint endpoint, std::string body) {
  LlmRequest req;
  auto root = begin_request(body, endpoint, req);
  if (!root) return std::move(root).error();
  // The translation is written while the body is checked, part by part.
  ChatDraft draft;
  std::string options;
  std::optional<Error> problem = read_system(*root, draft, req.messages);
  if (!problem) problem = read_messages(*root, draft, req.messages);
  if (!problem) problem = read_tools(*root, draft, req.messages, options);
  if (!problem) problem = read_options(*root, endpoint, req, draft, options);
  if (problem) return std::move(*problem);
  req.include_usage = req.stream;

  if (endpoint == Endpoint::messages) draft.finish(req, options);
  end_request(std::move(body), req);
  return req;
}

}  // namespace sluice::server
