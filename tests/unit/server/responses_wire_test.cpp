// parse_responses_request: what /v1/responses accepts, its chat-completions
// translation (against the API reference's examples), what a stateless
// translation refuses and what it passes through when the deployment speaks
// the Responses API, the parameters a Response repeats, and hostile bodies.
#include "responses_wire.hpp"

#include <gtest/gtest.h>

#include <cstddef>
#include <string>

#include "dialect_test_util.hpp"
#include "support/growth.hpp"

namespace sluice::server {
namespace {

using namespace dialect_test;
using test::read_fixture;

const std::string kMinimal = R"({"model":"gpt-4.1","input":"Hello"})";

std::string with(const std::string& member) { return kMinimal.substr(0, kMinimal.size() - 1) + "," + member + "}"; }

ResponsesRequest parse_ok(const std::string& body) {
  auto r = parse_responses_request(body);
  EXPECT_TRUE(r.ok()) << body << " -> " << (r.ok() ? "" : r.error().message);
  return r.ok() ? std::move(r).value() : ResponsesRequest{};
}

Error parse_error(const std::string& body) {
  auto r = parse_responses_request(body);
  EXPECT_FALSE(r.ok()) << body;
  return r.ok() ? Error{} : r.error();
}

// The echo as the members of an object.
json echo_of(const ResponsesRequest& r) {
  std::string object = r.echo;  // ",\"key\":value..."
  object.front() = '{';
  return parsed(object + "}");
}

TEST(ParseResponses, DocsExampleWithInstructions) {
  const std::string body = read_fixture("dialects/responses/create.request.json");
  const ResponsesRequest r = parse_ok(body);
  EXPECT_EQ(r.request.endpoint, Endpoint::responses);
  EXPECT_EQ(r.request.body, body);
  EXPECT_EQ(r.request.body.substr(r.request.model_offset, r.request.model_length), "\"gpt-4.1\"");
  EXPECT_FALSE(r.request.stream);
  EXPECT_EQ(r.request.max_tokens, 512);
  ASSERT_TRUE(r.request.as_chat) << "store: false is what a stateless route does anyway";
  expect_fixture(r.request.as_chat->body, "dialects/responses/create.chat-request.json");
  const json echo = echo_of(r);
  EXPECT_EQ(echo["instructions"], "You are a coding assistant that talks like a pirate.");
  EXPECT_EQ(echo["max_output_tokens"], 512);
  EXPECT_EQ(echo["temperature"], 0.7);
  EXPECT_EQ(echo["top_p"], 1);
  EXPECT_EQ(echo["tools"], json::array());
  EXPECT_EQ(echo["tool_choice"], "auto");
  EXPECT_EQ(echo["store"], false);
  EXPECT_EQ(echo["text"], json::parse(R"({"format":{"type":"text"}})"));
}

TEST(ParseResponses, DocsFunctionCallingRoundTripWithStructuredOutput) {
  const ResponsesRequest r = parse_ok(read_fixture("dialects/responses/tools.request.json"));
  EXPECT_TRUE(r.request.stream);
  ASSERT_TRUE(r.request.as_chat);
  expect_fixture(r.request.as_chat->body, "dialects/responses/tools.chat-request.json");
  EXPECT_TRUE(r.request.as_chat->stream);
  EXPECT_TRUE(r.request.as_chat->include_usage);
  const json echo = echo_of(r);
  EXPECT_EQ(echo["tools"], parsed(read_fixture("dialects/responses/tools.request.json"))["tools"]);
  EXPECT_EQ(echo["parallel_tool_calls"], false);
  EXPECT_EQ(echo["reasoning"], json::parse(R"({"effort":"low","summary":null})"));
  EXPECT_EQ(echo["text"]["format"]["name"], "weather");
  EXPECT_EQ(echo["user"], "user_1234");
}

TEST(ParseResponses, FunctionCallsWithoutTextFormTheirOwnAssistantTurn) {
  const ResponsesRequest r = parse_ok(std::string(R"({"model":"m",)") +
      R"("input":[{"role":"user","content":"a"},)"
      R"({"type":"function_call","call_id":"c1","name":"f","arguments":"{}"},)"
      R"({"type":"function_call","call_id":"c2","name":"g","arguments":"{\"x\":1}"},)"
      R"({"type":"function_call_output","call_id":"c1","output":[{"type":"input_text","text":"one"}]},)"
      R"({"type":"function_call_output","call_id":"c2","output":"two"},)"
      R"({"role":"assistant","content":"done"}]})");
  ASSERT_TRUE(r.request.as_chat);
  EXPECT_EQ(parsed(r.request.as_chat->body)["messages"], json::parse(R"([
    {"role":"user","content":"a"},
    {"role":"assistant","content":null,"tool_calls":[
      {"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}},
      {"id":"c2","type":"function","function":{"name":"g","arguments":"{\"x\":1}"}}]},
    {"role":"tool","tool_call_id":"c1","content":"one"},
    {"role":"tool","tool_call_id":"c2","content":"two"},
    {"role":"assistant","content":"done"}])"));
}

TEST(ParseResponses, ToolChoiceForms) {
  const std::string tools = R"("tools":[{"type":"function","name":"f","parameters":{"type":"object"}}])";
  auto choice = [&](const std::string& c) {
    return parsed(parse_ok(with(tools + R"(,"tool_choice":)" + c)).request.as_chat->body)["tool_choice"];
  };
  EXPECT_EQ(choice(R"("required")"), "required");
  EXPECT_EQ(choice(R"("none")"), "none");
  EXPECT_EQ(choice(R"({"type":"function","name":"f"})"), json::parse(R"({"type":"function","function":{"name":"f"}})"));
  EXPECT_EQ(parsed(parse_ok(with(tools)).request.as_chat->body)["tools"][0],
            json::parse(R"({"type":"function","function":{"name":"f","parameters":{"type":"object"}}})"));
}

TEST(ParseResponses, StatefulAndBuiltInFeaturesAreRefusedForTranslationOnly) {
  struct Case {
    std::string member, param;
  };
  const Case cases[] = {
      {R"("store":true)", "store"},
      {R"("previous_response_id":"resp_123")", "previous_response_id"},
      {R"("background":true)", "background"},
      {R"("conversation":"conv_123")", "conversation"},
      {R"("prompt":{"id":"pmpt_123"})", "prompt"},
      {R"("top_logprobs":3)", "top_logprobs"},
      {R"("tools":[{"type":"web_search_preview"}])", "tools[0].type"},
      {R"("tools":[{"type":"file_search","vector_store_ids":["vs_1"]}])", "tools[0].type"},
      {R"("tools":[{"type":"computer_use_preview","display_width":1024,"display_height":768,"environment":"browser"}])",
       "tools[0].type"},
      {R"("tool_choice":{"type":"file_search"})", "tool_choice"},
  };
  for (const Case& c : cases) {
    const ResponsesRequest r = parse_ok(with(c.member));
    EXPECT_FALSE(r.request.as_chat) << c.member;
    ASSERT_TRUE(r.request.untranslatable.has_value()) << c.member;
    EXPECT_EQ(r.request.untranslatable->code, errc::bad_request);
    EXPECT_EQ(r.request.untranslatable->param, c.param) << c.member;
    EXPECT_EQ(r.request.body, with(c.member)) << "the body still goes as sent to a native deployment";
  }
  for (const std::string items : {R"([{"type":"item_reference","id":"msg_1"}])",
                                  R"([{"type":"web_search_call","id":"ws_1","status":"completed"}])",
                                  R"([{"role":"user","content":[{"type":"input_file","file_id":"file-1"}]}])",
                                  R"([{"role":"user","content":[{"type":"input_image","file_id":"file-1"}]}])"}) {
    const ResponsesRequest r = parse_ok(R"({"model":"m","input":)" + items + "}");
    EXPECT_TRUE(r.request.untranslatable.has_value()) << items;
    EXPECT_TRUE(r.request.untranslatable->param.starts_with("input[0]")) << r.request.untranslatable->param;
  }
  // Nothing to send: chat completions refuses an empty messages array.
  const ResponsesRequest empty = parse_ok(R"({"model":"m","input":[]})");
  EXPECT_FALSE(empty.request.as_chat);
  ASSERT_TRUE(empty.request.untranslatable.has_value());
  EXPECT_EQ(empty.request.untranslatable->param, "messages");
}

TEST(ParseResponses, WhatATranslationCannotUseIsDropped) {
  const json chat = parsed(parse_ok(with(R"("store":false,"include":["reasoning.encrypted_content"],"truncation":"auto",)"
                                         R"("metadata":{"k":"v"},"service_tier":"auto","max_tool_calls":3)"))
                               .request.as_chat->body);
  for (const char* dropped : {"store", "include", "truncation", "metadata", "service_tier", "max_tool_calls"})
    EXPECT_FALSE(chat.contains(dropped)) << dropped;
}

TEST(ParseResponses, AWrongTypeAtEveryLevelIsA400NamingIt) {
  struct Case {
    std::string body, param;
  };
  const Case cases[] = {
      {R"({"input":"x"})", "model"},
      {R"({"model":"m"})", "input"},
      {R"({"model":"m","input":7})", "input"},
      {R"({"model":"m","input":[7]})", "input[0]"},
      {R"({"model":"m","input":[{}]})", "input[0].type"},
      {R"({"model":"m","input":[{"role":"tool","content":"x"}]})", "input[0].role"},
      {R"({"model":"m","input":[{"role":"user"}]})", "input[0].content"},
      {R"({"model":"m","input":[{"role":"user","content":7}]})", "input[0].content"},
      {R"({"model":"m","input":[{"role":"user","content":[7]}]})", "input[0].content[0]"},
      {R"({"model":"m","input":[{"role":"user","content":[{"text":"x"}]}]})", "input[0].content[0].type"},
      {R"({"model":"m","input":[{"role":"user","content":[{"type":"input_text","text":7}]}]})", "input[0].content[0]"},
      {R"({"model":"m","input":[{"type":"function_call","call_id":"c","name":"f"}]})", "input[0]"},
      {R"({"model":"m","input":[{"type":"function_call_output","output":"x"}]})", "input[0].call_id"},
      {R"({"model":"m","input":[{"type":"function_call_output","call_id":"c"}]})", "input[0].output"},
      {R"({"model":"m","input":[{"type":"function_call_output","call_id":"c","output":7}]})", "input[0].output"},
      {with(R"("instructions":7)"), "instructions"},
      {with(R"("tools":{})"), "tools"},
      {with(R"("tools":[{"name":"f"}])"), "tools[0]"},
      {with(R"("tools":[{"type":"function"}])"), "tools[0].name"},
      {with(R"("tools":[{"type":"function","name":"f","parameters":[]}])"), "tools[0].parameters"},
      {with(R"("tool_choice":"sometimes")"), "tool_choice"},
      {with(R"("tool_choice":7)"), "tool_choice"},
      {with(R"("tool_choice":{"type":"function"})"), "tool_choice.name"},
      {with(R"("max_output_tokens":"5")"), "max_output_tokens"},
      {with(R"("max_output_tokens":-5)"), "max_output_tokens"},
      {with(R"("temperature":"hot")"), "temperature"},
      {with(R"("top_p":[])"), "top_p"},
      {with(R"("stream":1)"), "stream"},
      {with(R"("store":"yes")"), "store"},
      {with(R"("background":0)"), "background"},
      {with(R"("metadata":[])"), "metadata"},
      {with(R"("user":7)"), "user"},
      {with(R"("reasoning":"high")"), "reasoning"},
      {with(R"("text":"json")"), "text"},
      {with(R"("text":{"format":{"type":"yaml"}})"), "text.format.type"},
      {with(R"("text":{"format":{"type":"json_schema","schema":{}}})"), "text.format"},
  };
  for (const Case& c : cases) {
    const Error e = parse_error(c.body);
    EXPECT_EQ(e.code, errc::bad_request) << c.body;
    EXPECT_EQ(e.param, c.param) << c.body << " -> " << e.message;
  }
}

// n function calls as Responses input items: they merge into one turn.
std::string many_calls(std::size_t n) {
  std::string items;
  for (std::size_t i = 0; i < n; ++i) {
    items += std::string(i ? "," : "") + R"({"type":"function_call","call_id":"c)" + std::to_string(i) +
             R"(","name":"f","arguments":"{}"})";
  }
  return R"({"model":"m","input":[)" + items + "]}";
}

TEST(ParseResponses, DeepNestingAndHugeArrays) {
  const Error deep = parse_error(dialect_test::nested_body(kMinimal, "metadata", 100'000));
  EXPECT_NE(deep.message.find("nested deeper"), std::string::npos) << deep.message;
  const ResponsesRequest r = parse_ok(many_calls(100'000));
  ASSERT_TRUE(r.request.as_chat);
  EXPECT_EQ(parsed(r.request.as_chat->body)["messages"][0]["tool_calls"].size(), 100'000u);
  const double growth = test::growth(many_calls, [](const std::string& body) { (void)parse_ok(body); },
                                     [](const std::string& body) { return json::parse(body).size(); }, 6'250);
  EXPECT_LT(growth, test::kLinearGrowth) << "the calls merge into one turn in linear time";
}

}  // namespace
}  // namespace sluice::server
