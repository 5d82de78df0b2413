// LlmRequest: the model rewrite that forwards the client's body untouched but
// for one token, and the prompt size used for token estimates.
#include "sluice/core/request.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

namespace sluice {
namespace {

using json = nlohmann::json;

// A request whose model span is located by hand (parse_request does it in
// the pipeline; here the span is the contract under test).
LlmRequest with_body(std::string body, std::string model) {
  LlmRequest r;
  r.body = std::move(body);
  r.model = std::move(model);
  const std::string token = "\"" + r.model + "\"";
  const std::size_t key = r.body.find("\"model\"");
  r.model_offset = r.body.find(token, key + 7);
  r.model_length = token.size();
  return r;
}

TEST(BodyForModel, SameModelReturnsBodyUnchanged) {
  const LlmRequest r = with_body(R"({"model" : "gpt-4o",  "messages":[]})", "gpt-4o");
  EXPECT_EQ(r.body_for_model("gpt-4o"), r.body);
}

TEST(BodyForModel, ReplacesExactlyTheModelToken) {
  const LlmRequest r = with_body(R"({"messages":[{"role":"user","content":"gpt-4o"}], "model" :  "gpt-4o" ,"n":1})",
                                 "gpt-4o");
  EXPECT_EQ(r.body_for_model("llama3:8b"),
            R"({"messages":[{"role":"user","content":"gpt-4o"}], "model" :  "llama3:8b" ,"n":1})");
}

TEST(BodyForModel, LongerAndShorterNames) {
  const LlmRequest r = with_body(R"({"model":"m","x":1})", "m");
  EXPECT_EQ(r.body_for_model("a-much-longer-model-name"), R"({"model":"a-much-longer-model-name","x":1})");
  const LlmRequest l = with_body(R"({"model":"a-much-longer-model-name","x":1})", "a-much-longer-model-name");
  EXPECT_EQ(l.body_for_model("m"), R"({"model":"m","x":1})");
}

TEST(BodyForModel, EscapesTheNewName) {
  const LlmRequest r = with_body(R"({"model":"m","x":1})", "m");
  const std::string out = r.body_for_model("we\"ird\\name\n");
  EXPECT_EQ(out, R"({"model":"we\"ird\\name\n","x":1})");
  const json j = json::parse(out);
  EXPECT_EQ(j["model"], "we\"ird\\name\n");
  EXPECT_EQ(j["x"], 1);
}

TEST(BodyForModel, ModelAtTheEndOfTheBody) {
  const LlmRequest r = with_body(R"({"x":1,"model":"m"})", "m");
  EXPECT_EQ(r.body_for_model("n"), R"({"x":1,"model":"n"})");
}

TEST(PromptChars, CountsMessagesAndInputs) {
  LlmRequest r;
  EXPECT_EQ(r.prompt_chars(), 0u);
  r.messages = {{"system", "abc"}, {"user", "hello"}};
  EXPECT_EQ(r.prompt_chars(), 8u);
  r.inputs = {"1234", ""};
  EXPECT_EQ(r.prompt_chars(), 12u);
}

TEST(PromptChars, CountsBytes) {
  LlmRequest r;
  r.inputs = {"\xc3\xa9"};  // one character, two UTF-8 bytes
  EXPECT_EQ(r.prompt_chars(), 2u);
}

TEST(EstimateTokens, RoundsUpAtFourCharactersPerToken) {
  EXPECT_EQ(estimate_tokens(0), 0);
  EXPECT_EQ(estimate_tokens(1), 1);
  EXPECT_EQ(estimate_tokens(4), 1);
  EXPECT_EQ(estimate_tokens(5), 2);
  EXPECT_EQ(estimate_tokens(400), 100);
}

TEST(Endpoint, NamesAndUpstreamPaths) {
  EXPECT_EQ(to_string(Endpoint::chat_completions), "chat.completions");
  EXPECT_EQ(to_string(Endpoint::completions), "completions");
  EXPECT_EQ(to_string(Endpoint::embeddings), "embeddings");
  EXPECT_EQ(upstream_path(Endpoint::chat_completions), "/chat/completions");
  EXPECT_EQ(upstream_path(Endpoint::completions), "/completions");
  EXPECT_EQ(upstream_path(Endpoint::embeddings), "/embeddings");
}

}  // namespace
}  // namespace sluice
