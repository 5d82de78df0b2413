// Files of labelled prompts: parsing with a problem per bad line. Contracts
// in labelled_prompts.hpp.
#include "sluice/core/labelled_prompts.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <nlohmann/json.hpp>

namespace sluice {

namespace {

using json = nlohmann::json;

// A message's text: a string, or the text parts of an array joined by "\n".
bool content_text(const json& content, std::string& out) {
  if (content.is_string()) {
    out = content.get<std::string>();
    return true;
  }
  if (!content.is_array()) return content.is_null();
  for (const json& part : content) {
    if (!part.is_object()) return false;
    const auto text = part.find("text");
    if (text == part.end()) continue;
    if (!text->is_string()) return false;
    if (!out.empty()) out += '\n';
    out += text->get<std::string>();
  }
  return true;
}

// One line's object, or why not.
std::string read_line(const json& doc, LabelledPrompt& out) {
  if (!doc.is_object()) return "expected a JSON object";
  for (const auto& [key, value] : doc.items()) {
    if (key == "prompt") {
      if (!value.is_string()) return "'prompt' must be a string";
      out.messages.push_back({"user", value.get<std::string>()});
    } else if (key == "messages") {
      if (!value.is_array() || value.empty()) return "'messages' must be a non-empty array";
      for (const json& m : value) {
        if (!m.is_object() || !m.contains("role") || !m["role"].is_string())
          return "each message needs a string 'role'";
        Message message{m["role"].get<std::string>(), {}};
        if (m.contains("content") && !content_text(m["content"], message.text))
          return "a message's 'content' must be a string or an array of text parts";
        out.messages.push_back(std::move(message));
      }
    } else if (key == "tier") {
      if (!value.is_string() || value.get<std::string>().empty()) return "'tier' must be a non-empty string";
      out.tier = value.get<std::string>();
    } else if (key == "kind" || key == "note") {
      if (!value.is_string()) return "'" + key + "' must be a string";
      if (key == "kind") out.kind = value.get<std::string>();
    } else {
      return "unknown key '" + key + "' (expected prompt or messages, tier, kind, note)";
    }
  }
  if (doc.contains("prompt") && doc.contains("messages")) return "give either 'prompt' or 'messages', not both";
  if (out.messages.empty()) return "missing 'prompt' or 'messages'";
  return {};
}

}  // namespace

LabelledPrompts parse_labelled_prompts(std::string_view text) {
  LabelledPrompts result;
  int line_number = 0;
  while (!text.empty()) {
    const std::size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    ++line_number;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    const json doc = json::parse(line, nullptr, false);
    LabelledPrompt prompt;
    prompt.line = line_number;
    std::string problem = doc.is_discarded() ? "not valid JSON" : read_line(doc, prompt);
    if (problem.empty()) result.prompts.push_back(std::move(prompt));
    else result.problems.push_back("line " + std::to_string(line_number) + ": " + problem);
  }
  return result;
}

LabelledPrompts read_labelled_prompts(const std::string& path) {
  LabelledPrompts result;
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (!file) {
    result.problems.push_back(std::string("cannot read file: ") + std::strerror(errno));
    return result;
  }
  std::string text;
  char buffer[65536];
  std::size_t n = 0;
  bool too_big = false;
  while ((n = std::fread(buffer, 1, sizeof buffer, file)) > 0) {
    text.append(buffer, n);
    if (text.size() > kMaxLabelledFileBytes) {
      too_big = true;
      break;
    }
  }
  const bool failed = std::ferror(file);
  std::fclose(file);
  if (too_big) result.problems.push_back("the file is larger than " + std::to_string(kMaxLabelledFileBytes) + " bytes");
  else if (failed) result.problems.push_back("cannot read file");
  else result = parse_labelled_prompts(text);
  return result;
}

LlmRequest request_of(const LabelledPrompt& prompt) {
  LlmRequest req;
  req.endpoint = Endpoint::chat_completions;
  req.messages = prompt.messages;
  return req;
}

}  // namespace sluice
