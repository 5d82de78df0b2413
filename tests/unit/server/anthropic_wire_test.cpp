// parse_messages_request: what /v1/messages and /v1/messages/count_tokens
// accept, the chat-completions translation that rides along (against
// recorded samples, and back from the provider's own samples), what cannot
// be translated, and hostile bodies: deep nesting, huge arrays, a wrong type
// at every level.
#include "anthropic_wire.hpp"

#include <gtest/gtest.h>

#include <cstddef>
#include <string>

#include "dialect_test_util.hpp"
#include "support/growth.hpp"

namespace sluice::server {
namespace {

using namespace dialect_test;
using test::read_fixture;

const std::string kMinimal = R"({"model":"claude","max_tokens":16,"messages":[{"role":"user","content":"Hello"}]})";

LlmRequest parse_ok(const std::string& body, Endpoint endpoint = Endpoint::messages) {
  auto r = parse_messages_request(endpoint, body);
  EXPECT_TRUE(r.ok()) << body << " -> " << (r.ok() ? "" : r.error().message);
  return r.ok() ? std::move(r).value() : LlmRequest{};
}

Error parse_error(const std::string& body, Endpoint endpoint = Endpoint::messages) {
  auto r = parse_messages_request(endpoint, body);
  EXPECT_FALSE(r.ok()) << body;
  return r.ok() ? Error{} : r.error();
}

// The translation refusal of a body that is valid Messages.
Error refusal(const std::string& body) {
  const LlmRequest r = parse_ok(body);
  EXPECT_FALSE(r.as_chat) << body;
  EXPECT_TRUE(r.untranslatable.has_value()) << body;
  return r.untranslatable.value_or(Error{});
}

std::string with(const std::string& member) { return kMinimal.substr(0, kMinimal.size() - 1) + "," + member + "}"; }

// --- the request and its translation ----------------------------------------------

TEST(ParseMessages, DocsExampleKeepsTheBodyAndTranslatesToChat) {
  const std::string body = read_fixture("dialects/anthropic/messages.request.json");
  const LlmRequest r = parse_ok(body);
  EXPECT_EQ(r.endpoint, Endpoint::messages);
  EXPECT_EQ(r.body, body) << "the body stays as sent, for a native upstream";
  EXPECT_EQ(r.model, "claude-sonnet-4-5");
  EXPECT_EQ(r.body.substr(r.model_offset, r.model_length), "\"claude-sonnet-4-5\"");
  EXPECT_TRUE(r.stream);
  EXPECT_TRUE(r.include_usage);
  EXPECT_EQ(r.max_tokens, 1024);
  EXPECT_FALSE(r.untranslatable.has_value());
  ASSERT_TRUE(r.as_chat);
  const LlmRequest& chat = *r.as_chat;
  EXPECT_EQ(chat.endpoint, Endpoint::chat_completions);
  expect_fixture(chat.body, "dialects/anthropic/messages.chat-request.json");
  EXPECT_EQ(chat.body.substr(chat.model_offset, chat.model_length), "\"claude-sonnet-4-5\"");
  EXPECT_EQ(chat.body_for_model("gpt-4o").substr(0, 17), R"({"model":"gpt-4o")");
  EXPECT_TRUE(chat.stream);
  EXPECT_TRUE(chat.include_usage);
  EXPECT_EQ(chat.max_tokens, 1024);
  // The prompt's texts, for token estimates: system, turns, tool input and result, tools.
  EXPECT_GT(r.prompt_chars(), 400u);
  EXPECT_EQ(r.messages.front().role, "system");
  EXPECT_EQ(chat.messages.size(), r.messages.size());
}

// The provider's sample pair read backwards: the Messages request it makes
// of an OpenAI chat request comes back as that chat request.
TEST(ParseMessages, TheProvidersTranslationComesBackToWhereItStarted) {
  const LlmRequest r = parse_ok(read_fixture("providers/anthropic/chat.anthropic-request.json"));
  ASSERT_TRUE(r.as_chat);
  json back = parsed(r.as_chat->body);
  json original = parsed(read_fixture("providers/anthropic/chat.openai-request.json"));
  back["model"] = original["model"];
  back["max_completion_tokens"] = back["max_tokens"];
  back.erase("max_tokens");
  EXPECT_EQ(back, original) << back.dump(2);
}

TEST(ParseMessages, MinimalRequest) {
  const LlmRequest r = parse_ok(kMinimal);
  EXPECT_FALSE(r.stream);
  ASSERT_TRUE(r.as_chat);
  EXPECT_EQ(parsed(r.as_chat->body),
            json({{"model", "claude"}, {"messages", {{{"role", "user"}, {"content", "Hello"}}}}, {"max_tokens", 16}}));
}

TEST(ParseMessages, CountTokensNeedsNoMaxTokensAndCarriesNoTranslation) {
  const std::string body = read_fixture("dialects/anthropic/count_tokens.request.json");
  const LlmRequest r = parse_ok(body, Endpoint::count_tokens);
  EXPECT_EQ(r.endpoint, Endpoint::count_tokens);
  EXPECT_FALSE(r.as_chat);
  EXPECT_FALSE(r.untranslatable.has_value());
  EXPECT_FALSE(r.max_tokens.has_value());
  EXPECT_EQ(r.body, body);
  // "You are a scientist" + "Hello, Claude": 32 characters, 8 tokens, plus 3 a message.
  EXPECT_EQ(parsed(estimated_count_tokens_body(r)), json({{"input_tokens", 14}}));
}

TEST(ParseMessages, DocumentsAndUrlImages) {
  const LlmRequest r = parse_ok(with(R"("system":"s")").replace(
      kMinimal.find(R"("Hello")") + 0, 7,
      R"([{"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"JVBERi0="}},)"
      R"({"type":"document","source":{"type":"text","media_type":"text/plain","data":"plain words"}},)"
      R"({"type":"image","source":{"type":"url","url":"https://example.com/a.png"}},)"
      R"({"type":"text","text":"Summarise","cache_control":{"type":"ephemeral"}}])"));
  ASSERT_TRUE(r.as_chat);
  const json user = parsed(r.as_chat->body)["messages"][1];
  EXPECT_EQ(user["content"], json::parse(R"([
    {"type":"file","file":{"filename":"document.pdf","file_data":"data:application/pdf;base64,JVBERi0="}},
    {"type":"text","text":"plain words"},
    {"type":"image_url","image_url":{"url":"https://example.com/a.png"}},
    {"type":"text","text":"Summarise"}])"));
}

TEST(ParseMessages, ToolChoicesAndAssistantTurnsOfToolUseOnly) {
  auto chat_of = [](const std::string& body) { return parsed(parse_ok(body).as_chat->body); };
  const std::string tools = R"("tools":[{"name":"f","input_schema":{"type":"object"}}])";
  EXPECT_EQ(chat_of(with(tools + R"(,"tool_choice":{"type":"any"})"))["tool_choice"], "required");
  EXPECT_EQ(chat_of(with(tools + R"(,"tool_choice":{"type":"none"})"))["tool_choice"], "none");
  EXPECT_EQ(chat_of(with(tools + R"(,"tool_choice":{"type":"tool","name":"f"})"))["tool_choice"],
            json::parse(R"({"type":"function","function":{"name":"f"}})"));
  EXPECT_FALSE(chat_of(with(R"("tool_choice":{"type":"auto"})")).contains("tool_choice")) << "no tools, no choice";
  const json chat = chat_of(
      R"({"model":"c","max_tokens":9,"messages":[{"role":"user","content":"weather?"},)"
      R"({"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"f","input":{}}]},)"
      R"({"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":[{"type":"text","text":"sunny"},{"type":"text","text":"warm"}],"is_error":false}]}],)" +
      tools + "}");
  EXPECT_EQ(chat["messages"][1], json::parse(R"({"role":"assistant","content":null,"tool_calls":[
              {"id":"t1","type":"function","function":{"name":"f","arguments":"{}"}}]})"));
  EXPECT_EQ(chat["messages"][2], json::parse(R"({"role":"tool","tool_call_id":"t1","content":"sunny\nwarm"})"));
  EXPECT_EQ(chat["messages"].size(), 3u) << "a user turn of tool results only adds no empty user message";
}

TEST(ParseMessages, OutputFormatBecomesResponseFormat) {
  const json chat = parsed(
      parse_ok(with(R"("output_format":{"type":"json_schema","schema":{"type":"object"}})")).as_chat->body);
  EXPECT_EQ(chat["response_format"],
            json::parse(R"({"type":"json_schema","json_schema":{"name":"output","schema":{"type":"object"}}})"));
}

// --- what chat completions cannot honour ------------------------------------------

TEST(ParseMessages, WhatChatCannotHonourIsRefusedNamingIt) {
  struct Case {
    std::string body, param;
  };
  const Case cases[] = {
      {with(R"("tools":[{"type":"web_search_20250305","name":"web_search","max_uses":5}])"), "tools.0.type"},
      {with(R"("tools":[{"type":"bash_20250124","name":"bash"}])"), "tools.0.type"},
      {with(R"("mcp_servers":[{"type":"url","url":"https://mcp.example","name":"x"}])"), "mcp_servers"},
      {with(R"("container":"container_011")"), "container"},
      {R"({"model":"c","max_tokens":0,"messages":[{"role":"user","content":"warm the cache"}]})", "max_tokens"},
      {R"({"model":"c","max_tokens":5,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"file","file_id":"file_1"}}]}]})",
       "messages.0.content.0.source.type"},
      {R"({"model":"c","max_tokens":5,"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBO"}}]}]}]})",
       "messages.0.content.0.content.0.type"},
      {R"({"model":"c","max_tokens":5,"messages":[{"role":"assistant","content":[{"type":"server_tool_use","id":"s","name":"web_search","input":{}}]}]})",
       "messages.0.content.0.type"},
      {R"({"model":"c","max_tokens":5,"messages":[{"role":"user","content":[{"type":"search_result","source":"x","title":"t","content":[]}]}]})",
       "messages.0.content.0.type"},
      // Nothing left to send: chat completions refuses an empty messages array.
      {R"({"model":"c","max_tokens":5,"messages":[{"role":"user","content":[]}]})", "messages"},
      {R"({"model":"c","max_tokens":5,"messages":[{"role":"assistant","content":[{"type":"thinking","thinking":"t","signature":"s"}]}]})",
       "messages"},
  };
  for (const Case& c : cases) {
    const Error e = refusal(c.body);
    EXPECT_EQ(e.code, errc::bad_request) << c.body;
    EXPECT_EQ(e.param, c.param) << c.body;
    EXPECT_NE(e.message.find("chat completions"), std::string::npos) << e.message;
  }
}

TEST(ParseMessages, WhatTheTargetCannotUseIsDropped) {
  const json chat = parsed(parse_ok(with(
      R"("top_k":5,"thinking":{"type":"enabled","budget_tokens":1024},"service_tier":"auto","metadata":{"user_id":null})")).as_chat->body);
  for (const char* dropped : {"top_k", "thinking", "service_tier", "user", "metadata"})
    EXPECT_FALSE(chat.contains(dropped)) << dropped;
}

// --- malformed bodies ------------------------------------------------------------

TEST(ParseMessages, AWrongTypeAtEveryLevelIsA400NamingIt) {
  struct Case {
    std::string body, param;
  };
  const std::string m = R"({"model":"c","max_tokens":5,"messages":)";
  const Case cases[] = {
      {"[]", ""},
      {R"({"max_tokens":5,"messages":[]})", "model"},
      {R"({"model":7,"max_tokens":5,"messages":[]})", "model"},
      {R"({"model":"c","messages":[{"role":"user","content":"x"}]})", "max_tokens"},
      {R"({"model":"c","max_tokens":"5","messages":[{"role":"user","content":"x"}]})", "max_tokens"},
      {R"({"model":"c","max_tokens":-1,"messages":[{"role":"user","content":"x"}]})", "max_tokens"},
      {m + "{}}", "messages"},
      {m + "[]}", "messages"},
      {m + "[7]}", "messages.0"},
      {m + R"([{"role":"system","content":"x"}]})", "messages.0.role"},
      {m + R"([{"role":"user"}]})", "messages.0.content"},
      {m + R"([{"role":"user","content":7}]})", "messages.0.content"},
      {m + R"([{"role":"user","content":[7]}]})", "messages.0.content.0"},
      {m + R"([{"role":"user","content":[{"text":"x"}]}]})", "messages.0.content.0.type"},
      {m + R"([{"role":"user","content":[{"type":"text","text":7}]}]})", "messages.0.content.0.text"},
      {m + R"([{"role":"user","content":[{"type":"image","source":7}]}]})", "messages.0.content.0.source"},
      {m + R"([{"role":"user","content":[{"type":"image","source":{"type":"base64"}}]}]})", "messages.0.content.0.source"},
      {m + R"([{"role":"user","content":[{"type":"tool_result","content":"x"}]}]})", "messages.0.content.0.tool_use_id"},
      {m + R"([{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":7}]}]})",
       "messages.0.content.0.content"},
      {m + R"([{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"f","input":[]}]}]})",
       "messages.0.content.0.input"},
      {m + R"([{"role":"assistant","content":[{"type":"tool_use","name":"f"}]}]})", "messages.0.content.0"},
      {R"({"model":"c","max_tokens":5,"system":7,"messages":[{"role":"user","content":"x"}]})", "system"},
      {R"({"model":"c","max_tokens":5,"system":[{"type":"image"}],"messages":[{"role":"user","content":"x"}]})", "system.0"},
      {with(R"("stream":"yes")"), "stream"},
      {with(R"("temperature":"hot")"), "temperature"},
      {with(R"("stop_sequences":"stop")"), "stop_sequences"},
      {with(R"("stop_sequences":[1])"), "stop_sequences"},
      {with(R"("tools":{})"), "tools"},
      {with(R"("tools":[7])"), "tools.0"},
      {with(R"("tools":[{"input_schema":{}}])"), "tools.0.name"},
      {with(R"("tools":[{"name":"f","input_schema":[]}])"), "tools.0.input_schema"},
      {with(R"("tool_choice":"auto")"), "tool_choice"},
      {with(R"("tool_choice":{"type":"tool"})"), "tool_choice.name"},
      {with(R"("metadata":[])"), "metadata"},
      {with(R"("metadata":{"user_id":7})"), "metadata.user_id"},
      {with(R"("thinking":true)"), "thinking"},
      {with(R"("output_format":{"type":"json_object"})"), "output_format"},
  };
  for (const Case& c : cases) {
    const Error e = parse_error(c.body);
    EXPECT_EQ(e.code, errc::bad_request) << c.body;
    EXPECT_EQ(e.param, c.param) << c.body << " -> " << e.message;
  }
}

TEST(ParseMessages, InvalidJsonUtf8AndDuplicateKeys) {
  EXPECT_EQ(parse_error("{\"model\":").code, errc::bad_request);
  EXPECT_NE(parse_error("{\"model\":\"\xff\"}").message.find("UTF-8"), std::string::npos);
  EXPECT_EQ(parse_error(R"({"model":"a","model":"b","max_tokens":1,"messages":[{"role":"user","content":"x"}]})").param,
            "model");
}

TEST(ParseMessages, DeepNestingIsRefusedBeforeAnythingWalksIt) {
  const Error e = parse_error(dialect_test::nested_body(kMinimal, "metadata", 100'000));
  EXPECT_NE(e.message.find("nested deeper"), std::string::npos) << e.message;
  // Deep but allowed: a tool schema nested 100 levels is copied, not refused.
  std::string schema = R"({"type":"object"})";
  for (int i = 0; i < 60; ++i) schema = R"({"type":"object","properties":{"p":)" + schema + "}}";
  const LlmRequest nested = parse_ok(with(R"("tools":[{"name":"f","input_schema":)" + schema + "}]"));
  ASSERT_TRUE(nested.as_chat);
  EXPECT_EQ(parsed(nested.as_chat->body)["tools"][0]["function"]["parameters"], parsed(schema));
  const LlmRequest deep = parse_ok(with(R"("tools":[{"name":"f","input_schema":{"a":)" + std::string(240, '[') +
                                        std::string(240, ']') + "}}]"));
  ASSERT_TRUE(deep.as_chat);
  EXPECT_TRUE(json::accept(deep.as_chat->body));
}

// n turns, or n tool results in one turn, as a Messages body.
std::string many_turns(std::size_t n) {
  std::string turns;
  for (std::size_t i = 0; i < n; ++i) turns += std::string(i ? "," : "") + R"({"role":"user","content":"x"})";
  return R"({"model":"c","max_tokens":1,"messages":[)" + turns + "]}";
}

std::string many_results(std::size_t n) {
  std::string results;
  for (std::size_t i = 0; i < n; ++i)
    results += std::string(i ? "," : "") + R"({"type":"tool_result","tool_use_id":"t)" + std::to_string(i) + R"(","content":"r"})";
  return R"({"model":"c","max_tokens":1,"messages":[{"role":"user","content":[)" + results + "]}]}";
}

TEST(ParseMessages, HugeArraysCostLinearTime) {
  // 100,000 turns and 100,000 tool results in one turn: each walked once.
  const LlmRequest many = parse_ok(many_turns(100'000));
  const LlmRequest wide = parse_ok(many_results(100'000));
  EXPECT_EQ(many.messages.size(), 100'000u);
  ASSERT_TRUE(wide.as_chat);
  EXPECT_EQ(parsed(wide.as_chat->body)["messages"].size(), 100'000u);
  const auto parse = [](const std::string& body) { (void)parse_ok(body); };
  const auto control = [](const std::string& body) { return json::parse(body).size(); };
  EXPECT_LT(test::growth(many_turns, parse, control, 6'250), test::kLinearGrowth);
  EXPECT_LT(test::growth(many_results, parse, control, 6'250), test::kLinearGrowth);
}

}  // namespace
}  // namespace sluice::server
