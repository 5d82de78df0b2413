// OpenAI chat request -> Anthropic Messages request (to_anthropic_request).
#include <algorithm>
#include <array>
#include <vector>

#include "anthropic.hpp"
#include "anthropic_json.hpp"

namespace sluice::providers {

namespace {

using json = nlohmann::json;
using json_access::int_member;
using json_access::member;
using json_access::string_member;

// Anthropic wants the conversation to open with a user turn; OpenAI allows an
// assistant greeting first. Rather than drop the greeting or refuse a common
// chat-UI shape, a minimal user turn goes before it.
constexpr std::string_view kLeadingUserText = ".";

// Anthropic's temperature range is 0..1, OpenAI's 0..2. Both are the softmax
// temperature with 1 as the default, so values up to 1 mean the same on both
// sides and pass unchanged; (1, 2] is clamped to 1 rather than scaled, which
// would silently make every 0.7 a 0.35.
constexpr double kMaxAnthropicTemperature = 1.0;

constexpr std::array<std::string_view, 4> kImageTypes = {"image/jpeg", "image/png", "image/gif", "image/webp"};

Error refuse(std::string message, std::string param) {
  return make_error(errc::bad_request, std::move(message), std::move(param));
}

bool present(const json* j) { return j && !j->is_null(); }

// The system prompt: every system and developer message, in order.
std::optional<Error> append_system_text(const json& content, const std::string& param, std::string& system) {
  auto add = [&](std::string_view text) {
    if (text.empty()) return;
    if (!system.empty()) system += "\n\n";
    system += text;
  };
  if (content.is_string()) {
    add(content.get_ref<const std::string&>());
    return std::nullopt;
  }
  if (!content.is_array()) return std::nullopt;  // null: nothing to add
  for (std::size_t j = 0; j < content.size(); ++j) {
    if (string_member(content[j], "type") != "text")
      return refuse("system messages sent to Anthropic models may only hold text parts", param + "[" + std::to_string(j) + "].type");
    add(string_member(content[j], "text"));
  }
  return std::nullopt;
}

// An image_url part: data: URLs (base64) become base64 sources, http(s) URLs url sources.
std::optional<Error> image_block(const json& part, const std::string& param, json& blocks) {
  const json* image = member(part, "image_url");
  std::string_view url = image && image->is_string() ? std::string_view(image->get_ref<const std::string&>())
                                                     : (image ? string_member(*image, "url") : std::string_view{});
  if (url.starts_with("http://") || url.starts_with("https://")) {
    blocks.push_back({{"type", "image"}, {"source", {{"type", "url"}, {"url", url}}}});
    return std::nullopt;
  }
  if (!url.starts_with("data:"))
    return refuse("image_url.url must be an http(s) URL or a base64 data: URL", param + ".image_url.url");
  const std::size_t comma = url.find(',');
  const std::string_view header = url.substr(5, comma == std::string_view::npos ? 0 : comma - 5);
  if (comma == std::string_view::npos || !header.ends_with(";base64") || comma + 1 == url.size())
    return refuse("image data: URLs must be base64-encoded (data:<type>;base64,...)", param + ".image_url.url");
  const std::string_view media_type = header.substr(0, header.size() - 7);
  if (std::find(kImageTypes.begin(), kImageTypes.end(), media_type) == kImageTypes.end())
    return refuse("Anthropic models accept images of type image/jpeg, image/png, image/gif or image/webp, not '" +
                      std::string(media_type) + "'",
                  param + ".image_url.url");
  blocks.push_back({{"type", "image"},
                    {"source", {{"type", "base64"}, {"media_type", media_type}, {"data", url.substr(comma + 1)}}}});
  return std::nullopt;
}

// Content blocks for a message's content: a string, an array of parts, or
// null. Empty text is dropped (Anthropic refuses empty text blocks).
std::optional<Error> append_content_blocks(const json& content, const std::string& param, bool images_allowed,
                                           json& blocks) {
  if (content.is_string()) {
    if (!content.get_ref<const std::string&>().empty()) blocks.push_back({{"type", "text"}, {"text", content}});
    return std::nullopt;
  }
  if (!content.is_array()) return std::nullopt;
  for (std::size_t j = 0; j < content.size(); ++j) {
    const json& part = content[j];
    const std::string part_param = param + "[" + std::to_string(j) + "]";
    const std::string_view type = string_member(part, "type");
    if (type == "text" || type == "refusal") {
      const std::string_view text = string_member(part, type);
      if (!text.empty()) blocks.push_back({{"type", "text"}, {"text", text}});
    } else if (type == "image_url" && images_allowed) {
      if (auto e = image_block(part, part_param, blocks)) return e;
    } else {
      return refuse("content parts of type '" + std::string(type) + "' cannot be sent to Anthropic models",
                    part_param + ".type");
    }
  }
  return std::nullopt;
}

// An assistant message's tool_calls as tool_use blocks; the arguments JSON
// string becomes the input object.
std::optional<Error> append_tool_uses(const json& calls, const std::string& param, json& blocks) {
  if (!calls.is_array()) return refuse("'tool_calls' must be an array", param);
  for (std::size_t j = 0; j < calls.size(); ++j) {
    const json& call = calls[j];
    const std::string call_param = param + "[" + std::to_string(j) + "]";
    const std::string_view type = string_member(call, "type");
    if (!type.empty() && type != "function")
      return refuse("only function tool calls can be sent to Anthropic models", call_param + ".type");
    const json* function = member(call, "function");
    const std::string_view id = string_member(call, "id");
    const std::string_view name = function ? string_member(*function, "name") : std::string_view{};
    if (id.empty() || name.empty())
      return refuse("a tool call needs an 'id' and a 'function.name'", call_param);
    const std::string_view arguments = string_member(*function, "arguments");
    json input = arguments.empty() ? json::object() : json::parse(arguments, nullptr, false);
    if (!input.is_object())
      return refuse("tool call arguments must be a JSON object to be sent to Anthropic models",
                    call_param + ".function.arguments");
    blocks.push_back({{"type", "tool_use"}, {"id", id}, {"name", name}, {"input", std::move(input)}});
  }
  return std::nullopt;
}

// The conversation as Anthropic turns: roles must alternate, so consecutive
// messages of one role (tool results included, which are user content there)
// share a turn.
class Turns {
 public:
  void add(std::string_view role, json blocks) {
    if (blocks.empty()) return;  // an empty message says nothing and would break alternation
    if (turns_.empty() || turns_.back().role != role) turns_.push_back({std::string(role), json::array(), json::array()});
    Turn& turn = turns_.back();
    // Anthropic wants a user turn's tool_result blocks before any other
    // block. They are kept apart and put first when the turn is written:
    // inserting each in front of the others would cost quadratic time in a
    // turn of many.
    for (json& block : blocks) (block["type"] == "tool_result" ? turn.results : turn.others).push_back(std::move(block));
  }

  // The turns, opening with a user turn.
  json finish() && {
    json out = json::array();
    if (!turns_.empty() && turns_[0].role == "assistant")
      out.push_back(json{{"role", "user"}, {"content", {{{"type", "text"}, {"text", kLeadingUserText}}}}});
    for (Turn& turn : turns_) {
      for (json& block : turn.others) turn.results.push_back(std::move(block));
      out.push_back(json{{"role", std::move(turn.role)}, {"content", std::move(turn.results)}});
    }
    return out;
  }

  bool empty() const { return turns_.empty(); }

 private:
  struct Turn {
    std::string role;
    json results;  // tool_result blocks
    json others;   // every other block, in order
  };
  std::vector<Turn> turns_;
};

std::optional<Error> translate_messages(const json& messages, std::string& system, Turns& turns) {
  if (!messages.is_array()) return refuse("'messages' must be an array", "messages");
  for (std::size_t i = 0; i < messages.size(); ++i) {
    const json& m = messages[i];
    const std::string param = "messages[" + std::to_string(i) + "]";
    const std::string_view role = string_member(m, "role");
    const json* content = member(m, "content");
    static const json kNull;
    const json& c = content ? *content : kNull;
    json blocks = json::array();
    if (role == "system" || role == "developer") {
      if (auto e = append_system_text(c, param + ".content", system)) return e;
    } else if (role == "user") {
      if (auto e = append_content_blocks(c, param + ".content", true, blocks)) return e;
      turns.add("user", std::move(blocks));
    } else if (role == "assistant") {
      if (auto e = append_content_blocks(c, param + ".content", false, blocks)) return e;
      if (const json* calls = member(m, "tool_calls"); present(calls))
        if (auto e = append_tool_uses(*calls, param + ".tool_calls", blocks)) return e;
      turns.add("assistant", std::move(blocks));
    } else if (role == "tool") {
      const std::string_view id = string_member(m, "tool_call_id");
      if (id.empty()) return refuse("a tool message needs a 'tool_call_id'", param + ".tool_call_id");
      json result = {{"type", "tool_result"}, {"tool_use_id", id}};
      json inner = json::array();
      if (auto e = append_content_blocks(c, param + ".content", true, inner)) return e;
      if (c.is_string()) result["content"] = c;
      else if (!inner.empty()) result["content"] = std::move(inner);
      blocks.push_back(std::move(result));
      turns.add("user", std::move(blocks));
    } else {
      return refuse("messages with role '" + std::string(role) + "' cannot be sent to Anthropic models", param + ".role");
    }
  }
  if (turns.empty()) return refuse("the conversation needs at least one user or assistant message", "messages");
  return std::nullopt;
}

// Requests whose answer Anthropic cannot shape the way the client asked.
std::optional<Error> refuse_untranslatable(const json& body) {
  if (const json* n = member(body, "n"); present(n) && !(n->is_number_integer() && n->get<std::int64_t>() == 1))
    return refuse("Anthropic models return one choice: 'n' must be 1", "n");
  if (const json* lp = member(body, "logprobs"); present(lp) && *lp != false)
    return refuse("Anthropic models do not return logprobs", "logprobs");
  if (const json* top = member(body, "top_logprobs"); present(top) && *top != 0)
    return refuse("Anthropic models do not return logprobs", "top_logprobs");
  if (const json* rf = member(body, "response_format"); present(rf) && string_member(*rf, "type") != "text")
    return refuse("response_format '" + std::string(string_member(*rf, "type")) +
                      "' cannot be translated for Anthropic models; describe the format in the prompt or use tools",
                  "response_format");
  for (const char* legacy : {"functions", "function_call"})
    if (present(member(body, legacy)))
      return refuse(std::string("'") + legacy + "' is not translated for Anthropic models; use 'tools' and 'tool_choice'",
                    legacy);
  if (present(member(body, "audio"))) return refuse("Anthropic models do not produce audio", "audio");
  if (const json* mod = member(body, "modalities"); present(mod) && *mod != json::array({"text"}))
    return refuse("Anthropic models answer with text only", "modalities");
  return std::nullopt;
}

std::optional<Error> translate_sampling(const json& body, json& out) {
  if (const json* t = member(body, "temperature"); present(t)) {
    if (!t->is_number() || t->get<double>() < 0 || t->get<double>() > 2)
      return refuse("'temperature' must be a number from 0 to 2", "temperature");
    out["temperature"] = std::min(t->get<double>(), kMaxAnthropicTemperature);
  }
  if (const json* p = member(body, "top_p"); present(p)) {
    if (!p->is_number()) return refuse("'top_p' must be a number", "top_p");
    out["top_p"] = *p;
  }
  if (const json* stop = member(body, "stop"); present(stop)) {
    json sequences = json::array();
    if (stop->is_string()) sequences.push_back(*stop);
    else if (stop->is_array() && std::all_of(stop->begin(), stop->end(), [](const json& s) { return s.is_string(); }))
      sequences = *stop;
    else return refuse("'stop' must be a string or an array of strings", "stop");
    if (!sequences.empty()) out["stop_sequences"] = std::move(sequences);
  }
  if (const std::string_view user = string_member(body, "user"); !user.empty()) out["metadata"] = {{"user_id", user}};
  return std::nullopt;
}

std::optional<Error> translate_tools(const json& body, json& out) {
  const json* tools = member(body, "tools");
  if (!present(tools)) return std::nullopt;
  if (!tools->is_array()) return refuse("'tools' must be an array", "tools");
  if (tools->empty()) return std::nullopt;
  json translated = json::array();
  for (std::size_t i = 0; i < tools->size(); ++i) {
    const json& tool = (*tools)[i];
    const std::string param = "tools[" + std::to_string(i) + "]";
    if (string_member(tool, "type") != "function")
      return refuse("only function tools can be sent to Anthropic models", param + ".type");
    const json* function = member(tool, "function");
    const std::string_view name = function ? string_member(*function, "name") : std::string_view{};
    if (name.empty()) return refuse("a function tool needs a 'name'", param + ".function.name");
    json t = {{"name", name}};
    if (const std::string_view d = string_member(*function, "description"); !d.empty()) t["description"] = d;
    const json* schema = member(*function, "parameters");
    t["input_schema"] = present(schema) ? *schema : json{{"type", "object"}, {"properties", json::object()}};
    translated.push_back(std::move(t));
  }
  out["tools"] = std::move(translated);

  json choice = {{"type", "auto"}};
  if (const json* c = member(body, "tool_choice"); present(c)) {
    const std::string_view mode = c->is_string() ? std::string_view(c->get_ref<const std::string&>()) : "";
    const json* function = member(*c, "function");
    if (mode == "auto" || mode == "none") choice["type"] = mode;
    else if (mode == "required") choice["type"] = "any";
    else if (string_member(*c, "type") == "function" && function && !string_member(*function, "name").empty())
      choice = {{"type", "tool"}, {"name", string_member(*function, "name")}};
    else
      return refuse("'tool_choice' must be 'auto', 'none', 'required' or {\"type\":\"function\",\"function\":{\"name\":...}}",
                    "tool_choice");
    out["tool_choice"] = choice;
  }
  if (const json* parallel = member(body, "parallel_tool_calls"); present(parallel) && *parallel == false &&
                                                                 choice["type"] != "none") {
    choice["disable_parallel_tool_use"] = true;
    out["tool_choice"] = std::move(choice);
  }
  return std::nullopt;
}

}  // namespace

Result<std::string> to_anthropic_request(const LlmRequest& req, std::string_view upstream_model,
                                         int default_max_tokens) {
  const json body = json::parse(req.body, nullptr, false);
  if (!body.is_object()) return refuse("the request body must be a JSON object", "");
  if (auto e = refuse_untranslatable(body)) return std::move(*e);

  std::string system;
  Turns turns;
  const json* messages = member(body, "messages");
  if (!messages) return refuse("you must provide a 'messages' parameter", "messages");
  if (auto e = translate_messages(*messages, system, turns)) return std::move(*e);

  json out = {{"model", upstream_model},
              {"max_tokens", req.max_tokens.value_or(default_max_tokens)},
              {"messages", std::move(turns).finish()}};
  if (!system.empty()) out["system"] = std::move(system);
  if (auto e = translate_sampling(body, out)) return std::move(*e);
  if (auto e = translate_tools(body, out)) return std::move(*e);
  if (req.stream) out["stream"] = true;
  return json_access::dump(out);
}

}  // namespace sluice::providers
