// OpenAI chat request -> Anthropic Messages request (to_anthropic_request).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "../../../src/providers/anthropic.hpp"
#include "support/fixture.hpp"
#include "support/growth.hpp"
#include "provider_test_util.hpp"

namespace sluice::providers {
namespace {

using json = nlohmann::json;
using test::make_llm_request;
using test::read_fixture;

constexpr int kDefaultMaxTokens = 4096;

json with_messages(json messages) { return {{"model", "claude"}, {"messages", std::move(messages)}}; }

json user(json content) { return {{"role", "user"}, {"content", std::move(content)}}; }
json assistant(json content) { return {{"role", "assistant"}, {"content", std::move(content)}}; }
json text_block(const std::string& text) { return {{"type", "text"}, {"text", text}}; }

// The translated request, parsed; fails the test when translation refused.
json translate(const json& body, int default_max_tokens = kDefaultMaxTokens) {
  const LlmRequest req = make_llm_request(body);
  auto out = to_anthropic_request(req, "claude-upstream", default_max_tokens);
  EXPECT_TRUE(out.ok()) << (out.ok() ? "" : out.error().message + " (param " + out.error().param + ")");
  return out.ok() ? json::parse(*out) : json();
}

// The refusal for `body`; fails the test when it was translated.
Error refusal(const json& body) {
  auto out = to_anthropic_request(make_llm_request(body), "claude-upstream", kDefaultMaxTokens);
  EXPECT_FALSE(out.ok()) << *out;
  return out.ok() ? Error{} : out.error();
}

TEST(ToAnthropicRequest, GoldenRequestWithToolsImagesAndHistory) {
  const json openai = json::parse(read_fixture("providers/anthropic/chat.openai-request.json"));
  const json expected = json::parse(read_fixture("providers/anthropic/chat.anthropic-request.json"));
  EXPECT_EQ(translate(openai), expected) << translate(openai).dump(2);
}

TEST(ToAnthropicRequest, PlainConversation) {
  const json out = translate(with_messages({user("Hi")}));
  EXPECT_EQ(out, json({{"model", "claude-upstream"},
                       {"max_tokens", kDefaultMaxTokens},
                       {"messages", {{{"role", "user"}, {"content", {text_block("Hi")}}}}}}));
}

TEST(ToAnthropicRequest, SystemAndDeveloperMessagesAreHoistedAndJoined) {
  const json out = translate(with_messages({
      {{"role", "system"}, {"content", "Be terse."}},
      {{"role", "developer"}, {"content", {text_block("Answer in French."), text_block("No emojis.")}}},
      user("Hi"),
      {{"role", "system"}, {"content", "Late rule."}},
      assistant("Salut"),
  }));
  EXPECT_EQ(out["system"], "Be terse.\n\nAnswer in French.\n\nNo emojis.\n\nLate rule.");
  ASSERT_EQ(out["messages"].size(), 2u);
  EXPECT_EQ(out["messages"][0]["role"], "user");
  EXPECT_EQ(out["messages"][1]["role"], "assistant");
  EXPECT_FALSE(translate(with_messages({user("Hi")})).contains("system")) << "no system prompt, no field";
}

TEST(ToAnthropicRequest, SystemMessagesHoldTextOnly) {
  const Error e = refusal(with_messages(
      {{{"role", "system"}, {"content", {{{"type", "image_url"}, {"image_url", {{"url", "https://x/y.png"}}}}}}}, user("Hi")}));
  EXPECT_EQ(e.code, errc::bad_request);
  EXPECT_EQ(e.param, "messages[0].content[0].type");
}

TEST(ToAnthropicRequest, ConsecutiveMessagesOfOneRoleShareATurn) {
  const json out = translate(with_messages({user("a"), user("b"), assistant("c"), assistant("d"), user("e")}));
  EXPECT_EQ(out["messages"], json({{{"role", "user"}, {"content", {text_block("a"), text_block("b")}}},
                                   {{"role", "assistant"}, {"content", {text_block("c"), text_block("d")}}},
                                   {{"role", "user"}, {"content", {text_block("e")}}}}));
}

TEST(ToAnthropicRequest, LeadingAssistantMessageGetsAMinimalUserTurnBeforeIt) {
  const json out = translate(with_messages({{{"role", "system"}, {"content", "s"}}, assistant("How can I help?"), user("Hi")}));
  EXPECT_EQ(out["messages"], json({{{"role", "user"}, {"content", {text_block(".")}}},
                                   {{"role", "assistant"}, {"content", {text_block("How can I help?")}}},
                                   {{"role", "user"}, {"content", {text_block("Hi")}}}}));
}

TEST(ToAnthropicRequest, EmptyMessagesAreDroppedAndTheirNeighboursMerged) {
  const json out = translate(with_messages({user("a"), assistant(""), assistant(nullptr), user(json::array()), user("b")}));
  EXPECT_EQ(out["messages"], json({{{"role", "user"}, {"content", {text_block("a"), text_block("b")}}}}));
  const Error e = refusal(with_messages({{{"role", "system"}, {"content", "only a system prompt"}}}));
  EXPECT_EQ(e.param, "messages");
}

TEST(ToAnthropicRequest, MaxTokensFromTheRequestElseTheProviderDefault) {
  json body = with_messages({user("Hi")});
  EXPECT_EQ(translate(body, 777)["max_tokens"], 777);
  body["max_tokens"] = 50;
  EXPECT_EQ(translate(body)["max_tokens"], 50);
  body["max_completion_tokens"] = 60;
  EXPECT_EQ(translate(body)["max_tokens"], 60) << "max_completion_tokens wins over the deprecated max_tokens";
}

TEST(ToAnthropicRequest, TextAndRefusalPartsBecomeTextBlocks) {
  const json out = translate(with_messages({
      user({text_block("one"), text_block(""), text_block("two")}),
      assistant({text_block("three"), {{"type", "refusal"}, {"refusal", "I can't."}}}),
  }));
  EXPECT_EQ(out["messages"][0]["content"], json({text_block("one"), text_block("two")}));
  EXPECT_EQ(out["messages"][1]["content"], json({text_block("three"), text_block("I can't.")}));
}

json image_part(json image_url) { return {{"type", "image_url"}, {"image_url", std::move(image_url)}}; }

TEST(ToAnthropicRequest, ImagesFromDataUrlsAndHttpUrls) {
  const json out = translate(with_messages({user({
      text_block("What is in these?"),
      image_part({{"url", "data:image/png;base64,iVBORw0KGgo="}, {"detail", "high"}}),
      image_part({{"url", "https://example.com/cat.jpg"}}),
      image_part("data:image/webp;base64,UklGRg=="),
  })}));
  EXPECT_EQ(out["messages"][0]["content"],
            json({text_block("What is in these?"),
                  {{"type", "image"}, {"source", {{"type", "base64"}, {"media_type", "image/png"}, {"data", "iVBORw0KGgo="}}}},
                  {{"type", "image"}, {"source", {{"type", "url"}, {"url", "https://example.com/cat.jpg"}}}},
                  {{"type", "image"}, {"source", {{"type", "base64"}, {"media_type", "image/webp"}, {"data", "UklGRg=="}}}}}));
}

TEST(ToAnthropicRequest, ImagesAnthropicCannotTakeAreRefused) {
  for (const char* url : {"data:image/png,rawbytes", "data:image/tiff;base64,AAAA", "data:image/png;base64,",
                          "ftp://example.com/a.png", "", "data:;base64,AAAA"}) {
    const Error e = refusal(with_messages({user({text_block("x"), image_part({{"url", url}})})}));
    EXPECT_EQ(e.code, errc::bad_request) << url;
    EXPECT_EQ(e.param, "messages[0].content[1].image_url.url") << url;
  }
  const Error in_assistant = refusal(with_messages({user("x"), assistant({image_part({{"url", "https://e.com/a.png"}})})}));
  EXPECT_EQ(in_assistant.param, "messages[1].content[0].type");
}

TEST(ToAnthropicRequest, UnsupportedContentPartsAreRefusedWithTheirParam) {
  const Error e = refusal(with_messages(
      {user("first"), user({text_block("x"), {{"type", "input_audio"}, {"input_audio", {{"data", "AAAA"}, {"format", "wav"}}}}})}));
  EXPECT_EQ(e.code, errc::bad_request);
  EXPECT_EQ(e.status(), 400);
  EXPECT_EQ(e.param, "messages[1].content[1].type");
  EXPECT_NE(e.message.find("input_audio"), std::string::npos) << e.message;
}

json tool_call(const std::string& id, const std::string& name, const std::string& arguments) {
  return {{"id", id}, {"type", "function"}, {"function", {{"name", name}, {"arguments", arguments}}}};
}

TEST(ToAnthropicRequest, AssistantToolCallsBecomeToolUseBlocks) {
  json call_turn = assistant(nullptr);
  call_turn["tool_calls"] = {tool_call("call_1", "get_weather", R"({"city":"Paris","days":[1,2]})"),
                             tool_call("call_2", "get_time", "")};
  json with_text = assistant("Let me check.");
  with_text["tool_calls"] = {tool_call("call_3", "get_time", "{}")};
  const json out = translate(with_messages({user("Weather?"), call_turn, user("and?"), with_text}));
  EXPECT_EQ(out["messages"][1]["content"],
            json({{{"type", "tool_use"}, {"id", "call_1"}, {"name", "get_weather"}, {"input", {{"city", "Paris"}, {"days", {1, 2}}}}},
                  {{"type", "tool_use"}, {"id", "call_2"}, {"name", "get_time"}, {"input", json::object()}}}));
  EXPECT_EQ(out["messages"][3]["content"],
            json({text_block("Let me check."),
                  {{"type", "tool_use"}, {"id", "call_3"}, {"name", "get_time"}, {"input", json::object()}}}));
}

TEST(ToAnthropicRequest, ToolCallsThatCannotBecomeToolUseAreRefused) {
  struct Case {
    json call;
    std::string param;
  };
  const Case cases[] = {
      {tool_call("c", "f", "not json"), "messages[1].tool_calls[0].function.arguments"},
      {tool_call("c", "f", "[1,2]"), "messages[1].tool_calls[0].function.arguments"},
      {tool_call("", "f", "{}"), "messages[1].tool_calls[0]"},
      {{{"id", "c"}, {"type", "custom"}, {"custom", {{"name", "f"}, {"input", "x"}}}}, "messages[1].tool_calls[0].type"},
  };
  for (const Case& c : cases) {
    json turn = assistant(nullptr);
    turn["tool_calls"] = {c.call};
    const Error e = refusal(with_messages({user("x"), turn}));
    EXPECT_EQ(e.code, errc::bad_request) << c.call;
    EXPECT_EQ(e.param, c.param) << c.call;
  }
}

json tool_message(const std::string& id, json content) {
  return {{"role", "tool"}, {"tool_call_id", id}, {"content", std::move(content)}};
}

TEST(ToAnthropicRequest, ToolMessagesBecomeToolResultsInOneUserTurn) {
  json call_turn = assistant(nullptr);
  call_turn["tool_calls"] = {tool_call("call_1", "a", "{}"), tool_call("call_2", "b", "{}")};
  const json out = translate(with_messages({
      user("go"), call_turn,
      tool_message("call_1", "sunny"),
      tool_message("call_2", {text_block("12:00"), text_block("CET")}),
      user("Thanks, summarize."),
  }));
  ASSERT_EQ(out["messages"].size(), 3u);
  EXPECT_EQ(out["messages"][2], json({{"role", "user"},
                                      {"content",
                                       {{{"type", "tool_result"}, {"tool_use_id", "call_1"}, {"content", "sunny"}},
                                        {{"type", "tool_result"},
                                         {"tool_use_id", "call_2"},
                                         {"content", {text_block("12:00"), text_block("CET")}}},
                                        text_block("Thanks, summarize.")}}}));
}

TEST(ToAnthropicRequest, ToolResultsGoBeforeTextInTheirTurn) {
  json call_turn = assistant(nullptr);
  call_turn["tool_calls"] = {tool_call("call_1", "a", "{}")};
  const json out = translate(with_messages({user("go"), call_turn, user("by the way"), tool_message("call_1", "")}));
  EXPECT_EQ(out["messages"][2]["content"],
            json({{{"type", "tool_result"}, {"tool_use_id", "call_1"}, {"content", ""}}, text_block("by the way")}));
}

TEST(ToAnthropicRequest, ToolMessageWithoutCallIdIsRefused) {
  const Error e = refusal(with_messages({user("x"), {{"role", "tool"}, {"content", "r"}}}));
  EXPECT_EQ(e.param, "messages[1].tool_call_id");
}

TEST(ToAnthropicRequest, UnknownRolesAreRefused) {
  for (const char* role : {"function", "critic", ""}) {
    const Error e = refusal(with_messages({user("x"), {{"role", role}, {"content", "y"}, {"name", "f"}}}));
    EXPECT_EQ(e.param, "messages[1].role") << role;
  }
}

json function_tool(const std::string& name, json parameters = nullptr) {
  json f = {{"name", name}, {"description", "does " + name}};
  if (!parameters.is_null()) f["parameters"] = std::move(parameters);
  return {{"type", "function"}, {"function", std::move(f)}};
}

TEST(ToAnthropicRequest, ToolsBecomeNameDescriptionAndInputSchema) {
  json body = with_messages({user("x")});
  const json schema = {{"type", "object"}, {"properties", {{"city", {{"type", "string"}}}}}, {"required", {"city"}}};
  body["tools"] = {function_tool("get_weather", schema), function_tool("get_time")};
  EXPECT_EQ(translate(body)["tools"],
            json({{{"name", "get_weather"}, {"description", "does get_weather"}, {"input_schema", schema}},
                  {{"name", "get_time"},
                   {"description", "does get_time"},
                   {"input_schema", {{"type", "object"}, {"properties", json::object()}}}}}));
  EXPECT_FALSE(translate(body).contains("tool_choice")) << "Anthropic's default is auto too";
  body["tools"] = json::array();
  EXPECT_FALSE(translate(body).contains("tools"));
}

TEST(ToAnthropicRequest, ToolChoiceMapping) {
  struct Case {
    json openai;
    json anthropic;
  };
  const Case cases[] = {
      {"auto", {{"type", "auto"}}},
      {"none", {{"type", "none"}}},
      {"required", {{"type", "any"}}},
      {{{"type", "function"}, {"function", {{"name", "get_time"}}}}, {{"type", "tool"}, {"name", "get_time"}}},
  };
  for (const Case& c : cases) {
    json body = with_messages({user("x")});
    body["tools"] = {function_tool("get_time")};
    body["tool_choice"] = c.openai;
    EXPECT_EQ(translate(body)["tool_choice"], c.anthropic) << c.openai;
  }
  for (const json& bad : {json("sometimes"), json({{"type", "function"}}), json({{"type", "allowed_tools"}}), json(3)}) {
    json body = with_messages({user("x")});
    body["tools"] = {function_tool("get_time")};
    body["tool_choice"] = bad;
    EXPECT_EQ(refusal(body).param, "tool_choice") << bad;
  }
}

TEST(ToAnthropicRequest, ParallelToolCallsFalseDisablesParallelToolUse) {
  json body = with_messages({user("x")});
  body["tools"] = {function_tool("get_time")};
  body["parallel_tool_calls"] = false;
  EXPECT_EQ(translate(body)["tool_choice"], json({{"type", "auto"}, {"disable_parallel_tool_use", true}}));
  body["tool_choice"] = "required";
  EXPECT_EQ(translate(body)["tool_choice"], json({{"type", "any"}, {"disable_parallel_tool_use", true}}));
  body["tool_choice"] = "none";
  EXPECT_EQ(translate(body)["tool_choice"], json({{"type", "none"}})) << "none takes no options";
  body["parallel_tool_calls"] = true;
  body.erase("tool_choice");
  EXPECT_FALSE(translate(body).contains("tool_choice"));
}

TEST(ToAnthropicRequest, NonFunctionToolsAreRefused) {
  json body = with_messages({user("x")});
  body["tools"] = {function_tool("a"), {{"type", "custom"}, {"custom", {{"name", "grammar"}}}}};
  EXPECT_EQ(refusal(body).param, "tools[1].type");
  body["tools"] = {{{"type", "function"}, {"function", {{"description", "nameless"}}}}};
  EXPECT_EQ(refusal(body).param, "tools[0].function.name");
}

TEST(ToAnthropicRequest, StopBecomesStopSequences) {
  json body = with_messages({user("x")});
  body["stop"] = "END";
  EXPECT_EQ(translate(body)["stop_sequences"], json({"END"}));
  body["stop"] = {"a", "b"};
  EXPECT_EQ(translate(body)["stop_sequences"], json({"a", "b"}));
  body["stop"] = nullptr;
  EXPECT_FALSE(translate(body).contains("stop_sequences"));
  body["stop"] = {"a", 1};
  EXPECT_EQ(refusal(body).param, "stop");
}

TEST(ToAnthropicRequest, TemperatureIsClampedToAnthropicsRange) {
  struct Case {
    double in;
    double out;
  };
  for (const Case c : {Case{0, 0}, Case{0.7, 0.7}, Case{1, 1}, Case{1.5, 1}, Case{2, 1}}) {
    json body = with_messages({user("x")});
    body["temperature"] = c.in;
    EXPECT_DOUBLE_EQ(translate(body)["temperature"].get<double>(), c.out) << c.in;
  }
  for (const json& bad : {json(-0.1), json(2.5), json("hot")}) {
    json body = with_messages({user("x")});
    body["temperature"] = bad;
    EXPECT_EQ(refusal(body).param, "temperature") << bad;
  }
}

TEST(ToAnthropicRequest, TopPUserAndStream) {
  json body = with_messages({user("x")});
  body["top_p"] = 0.9;
  body["user"] = "user-42";
  body["stream"] = true;
  body["stream_options"] = {{"include_usage", true}};
  const json out = translate(body);
  EXPECT_DOUBLE_EQ(out["top_p"].get<double>(), 0.9);
  EXPECT_EQ(out["metadata"], json({{"user_id", "user-42"}}));
  EXPECT_EQ(out["stream"], true);
  EXPECT_FALSE(out.contains("stream_options"));
  body["stream"] = false;
  EXPECT_FALSE(translate(body).contains("stream"));
}

TEST(ToAnthropicRequest, FieldsWithoutAnthropicMeaningAreDropped) {
  json body = with_messages({user("x")});
  body["x_fake"] = {{"status", 503}};
  body["frequency_penalty"] = 0.5;
  body["presence_penalty"] = 0.5;
  body["seed"] = 7;
  body["store"] = true;
  body["metadata"] = {{"k", "v"}};
  body["n"] = 1;
  body["logprobs"] = false;
  body["response_format"] = {{"type", "text"}};
  const json out = translate(body);
  EXPECT_EQ(out, translate(with_messages({user("x")})));
}

TEST(ToAnthropicRequest, WhatWouldChangeTheAnswersShapeIsRefused) {
  struct Case {
    const char* field;
    json value;
  };
  const Case cases[] = {
      {"n", 2},
      {"n", "1"},
      {"logprobs", true},
      {"top_logprobs", 3},
      {"response_format", {{"type", "json_object"}}},
      {"response_format", {{"type", "json_schema"}, {"json_schema", {{"name", "x"}}}}},
      {"functions", {{{"name", "f"}}}},
      {"function_call", "auto"},
      {"audio", {{"voice", "alloy"}, {"format", "wav"}}},
      {"modalities", {"text", "audio"}},
  };
  for (const Case& c : cases) {
    json body = with_messages({user("x")});
    body[c.field] = c.value;
    const Error e = refusal(body);
    EXPECT_EQ(e.code, errc::bad_request) << c.field;
    EXPECT_EQ(e.param, c.field);
    EXPECT_FALSE(e.fails_over());
  }
}

}  // namespace
}  // namespace sluice::providers

namespace sluice::providers {
namespace {

// n tool calls answered by n results with a user line after every second:
// the results go first in one user turn, then the words, in order.
nlohmann::json many_tool_results(std::size_t n) {
  nlohmann::json messages = nlohmann::json::array();
  messages.push_back({{"role", "user"}, {"content", "go"}});
  nlohmann::json calls = nlohmann::json::array();
  for (std::size_t i = 0; i < n; ++i)
    calls.push_back({{"id", std::string("t").append(std::to_string(i))}, {"type", "function"}, {"function", {{"name", "f"}, {"arguments", "{}"}}}});
  messages.push_back({{"role", "assistant"}, {"content", nullptr}, {"tool_calls", calls}});
  for (std::size_t i = 0; i < n; ++i) {
    messages.push_back({{"role", "tool"}, {"tool_call_id", std::string("t").append(std::to_string(i))}, {"content", "r"}});
    if (i % 2) messages.push_back({{"role", "user"}, {"content", std::string("and ").append(std::to_string(i))}});
  }
  return {{"model", "m"}, {"messages", messages}};
}

TEST(ToAnthropicRequest, ManyToolResultsInOneTurnCostLinearTime) {
  auto out = to_anthropic_request(test::make_llm_request(many_tool_results(20'000)), "m", 100);
  ASSERT_TRUE(out.ok()) << out.error().message;
  const nlohmann::json turn = nlohmann::json::parse(*out)["messages"][2]["content"];
  ASSERT_EQ(turn.size(), 30'000u);
  EXPECT_EQ(turn[19'999]["type"], "tool_result");
  EXPECT_EQ(turn[20'000]["type"], "text") << "results first, then the user's words, in order";
  EXPECT_EQ(turn[20'000]["text"], "and 1");

  const double growth = test::growth([](std::size_t n) { return test::make_llm_request(many_tool_results(n)); },
                                     [](const auto& request) { (void)to_anthropic_request(request, "m", 100); },
                                     [](const auto& request) { return nlohmann::json::parse(request.body).size(); }, 1'250);
  EXPECT_LT(growth, test::kLinearGrowth) << "inserting each result in front of the turn was quadratic";
}

}  // namespace
}  // namespace sluice::providers
