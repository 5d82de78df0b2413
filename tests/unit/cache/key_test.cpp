// make_key: equal requests hash equal however they are written; every
// parameter that changes an answer changes the hash; tenant and model
// partition; the semantic tier's eligibility and its prompt.
#include <gtest/gtest.h>

#include "sluice/cache/cache.hpp"

namespace sluice::cache {
namespace {

CacheConfig semantic_config(double max_temperature = 0.3) {
  CacheConfig c;
  c.enabled = true;
  c.semantic.enabled = true;
  c.semantic.max_temperature = max_temperature;
  return c;
}

LlmRequest request(std::string body, Endpoint endpoint = Endpoint::chat_completions, std::string model = "gpt-4o") {
  LlmRequest r;
  r.endpoint = endpoint;
  r.body = std::move(body);
  r.model = std::move(model);
  return r;
}

Key key_of(const std::string& body, std::string_view tenant = "acme", const CacheConfig& config = semantic_config(),
           Endpoint endpoint = Endpoint::chat_completions, std::string model = "gpt-4o") {
  auto key = make_key(request(body, endpoint, std::move(model)), tenant, config);
  EXPECT_TRUE(key.has_value()) << body;
  return key.value_or(Key{});
}

const std::string kBase =
    R"({"model":"gpt-4o","temperature":0,"messages":[{"role":"system","content":"Be brief."},)"
    R"({"role":"user","content":"What is the capital of France?"}]})";

TEST(CacheKey, EqualRequestsWrittenDifferentlyHashEqual) {
  const std::string reordered =
      R"({ "messages" : [ {"content":"Be brief.","role":"system"}, )"
      R"({"content":"What is the capital of France?","role":"user"} ], "temperature": 0.0, "model":"gpt-4o",)"
      R"( "stream": true, "stream_options": {"include_usage": true}, "user": "u-1", "metadata": {"a":"b"},)"
      R"( "store": false, "service_tier": "auto", "n": 1})";
  const Key a = key_of(kBase), b = key_of(reordered);
  EXPECT_EQ(a.exact, b.exact);
  EXPECT_EQ(a.partition, b.partition);
  EXPECT_NE(a.exact, a.partition);
  // Escapes decode to the same text.
  const Key c = key_of(R"({"model":"gpt-4o","temperature":0,"messages":[{"role":"system","content":"Be brief."},)"
                       R"({"role":"user","content":"What is the capital of Fran\u0063e?"}]})");
  EXPECT_EQ(a.exact, c.exact);
}

TEST(CacheKey, EveryAnswerChangingParameterChangesTheHash) {
  const Key base = key_of(kBase);
  const std::vector<std::string> extras = {
      R"("top_p":0.5)", R"("max_tokens":10)", R"("max_completion_tokens":10)",
      R"("tools":[{"type":"function","function":{"name":"f","parameters":{}}}])", R"("tool_choice":"none")",
      R"("response_format":{"type":"json_object"})", R"("seed":7)", R"("stop":["\n"])",
      R"("logit_bias":{"50256":-100})", R"("reasoning_effort":"high")", R"("presence_penalty":1)",
      R"("frequency_penalty":1)", R"("logprobs":true)", R"("parallel_tool_calls":false)"};
  for (const auto& extra : extras) {
    const std::string body = kBase.substr(0, kBase.size() - 1) + "," + extra + "}";
    const Key k = key_of(body);
    EXPECT_NE(k.exact, base.exact) << extra;
    EXPECT_NE(k.partition, base.partition) << extra;
  }
  const Key hotter = key_of(R"({"model":"gpt-4o","temperature":0.2,"messages":[{"role":"system","content":"Be brief."},)"
                            R"({"role":"user","content":"What is the capital of France?"}]})");
  EXPECT_NE(hotter.exact, base.exact);
  EXPECT_NE(hotter.partition, base.partition);
  const Key other_system = key_of(R"({"model":"gpt-4o","temperature":0,"messages":[{"role":"system","content":"Be verbose."},)"
                                  R"({"role":"user","content":"What is the capital of France?"}]})");
  EXPECT_NE(other_system.partition, base.partition);
  const Key earlier_turns = key_of(
      R"({"model":"gpt-4o","temperature":0,"messages":[{"role":"system","content":"Be brief."},)"
      R"({"role":"user","content":"Hi"},{"role":"assistant","content":"Hello"},)"
      R"({"role":"user","content":"What is the capital of France?"}]})");
  EXPECT_NE(earlier_turns.partition, base.partition);
}

TEST(CacheKey, OnlyTheLastUserTurnLeavesThePartition) {
  const Key a = key_of(kBase);
  const Key b = key_of(R"({"model":"gpt-4o","temperature":0,"messages":[{"role":"system","content":"Be brief."},)"
                       R"({"role":"user","content":"Which city is France's capital?"}]})");
  EXPECT_NE(a.exact, b.exact);
  EXPECT_EQ(a.partition, b.partition);
  EXPECT_TRUE(a.semantic);
  EXPECT_EQ(a.prompt, "What is the capital of France?");
  EXPECT_EQ(b.prompt, "Which city is France's capital?");
}

TEST(CacheKey, TenantModelAndEndpointPartition) {
  const Key a = key_of(kBase, "acme"), b = key_of(kBase, "globex");
  EXPECT_NE(a.exact, b.exact);
  EXPECT_NE(a.partition, b.partition);
  EXPECT_EQ(b.tenant, "globex");
  const Key other_model = key_of(kBase, "acme", semantic_config(), Endpoint::chat_completions, "gpt-4o-mini");
  EXPECT_NE(other_model.exact, a.exact);
  EXPECT_NE(other_model.partition, a.partition);
}

TEST(CacheKey, NeverCachedRequests) {
  const CacheConfig config = semantic_config();
  EXPECT_FALSE(make_key(request(R"({"model":"m","n":2,"messages":[{"role":"user","content":"x"}]})"), "t", config));
  EXPECT_FALSE(make_key(request(R"({"model":"m","messages":[]})", Endpoint::count_tokens), "t", config));
  EXPECT_FALSE(make_key(request("{not json"), "t", config));
  std::string deep(100, '[');
  deep += std::string(100, ']');
  EXPECT_FALSE(make_key(request(R"({"model":"m","x":)" + deep + "}"), "t", config));
  EXPECT_TRUE(make_key(request(R"({"model":"m","n":1,"messages":[{"role":"user","content":"x"}]})"), "t", config));
}

TEST(CacheKey, SemanticEligibility) {
  // No temperature: the provider's default, 1, is above max_temperature.
  const std::string no_temperature = R"({"model":"m","messages":[{"role":"user","content":"hello there"}]})";
  EXPECT_FALSE(key_of(no_temperature).semantic);
  EXPECT_TRUE(key_of(no_temperature, "t", semantic_config(1.0)).semantic);
  EXPECT_FALSE(key_of(R"({"model":"m","temperature":0.7,"messages":[{"role":"user","content":"hi"}]})").semantic);
  // The semantic tier off: exact only.
  CacheConfig exact_only;
  exact_only.enabled = true;
  EXPECT_FALSE(key_of(R"({"model":"m","temperature":0,"messages":[{"role":"user","content":"hi"}]})", "t", exact_only).semantic);
  // An image in the last turn; a last turn that is not the user's.
  EXPECT_FALSE(key_of(R"({"model":"m","temperature":0,"messages":[{"role":"user","content":[{"type":"text","text":"what is this"},)"
                      R"({"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}]}]})").semantic);
  EXPECT_FALSE(key_of(R"({"model":"m","temperature":0,"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"Hel"}]})").semantic);
  // Text parts are joined.
  const Key parts = key_of(R"({"model":"m","temperature":0,"messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}]})");
  EXPECT_TRUE(parts.semantic);
  EXPECT_EQ(parts.prompt, "a\nb");
  // Longer than max_prompt_chars (code points): exact only, never truncated.
  CacheConfig small = semantic_config();
  small.semantic.max_prompt_chars = 5;
  EXPECT_TRUE(key_of(R"({"model":"m","temperature":0,"messages":[{"role":"user","content":"héllo"}]})", "t", small).semantic);
  EXPECT_FALSE(key_of(R"({"model":"m","temperature":0,"messages":[{"role":"user","content":"héllo!"}]})", "t", small).semantic);
}

TEST(CacheKey, OtherDialects) {
  // Anthropic messages: the system prompt is top level.
  const Key m1 = key_of(R"({"model":"claude","max_tokens":100,"temperature":0,"system":"S","messages":[{"role":"user","content":[{"type":"text","text":"Q one"}]}]})",
                        "t", semantic_config(), Endpoint::messages);
  const Key m2 = key_of(R"({"model":"claude","max_tokens":100,"temperature":0,"system":"S","messages":[{"role":"user","content":"Q two"}]})",
                        "t", semantic_config(), Endpoint::messages);
  const Key m3 = key_of(R"({"model":"claude","max_tokens":100,"temperature":0,"system":"T","messages":[{"role":"user","content":"Q two"}]})",
                        "t", semantic_config(), Endpoint::messages);
  EXPECT_TRUE(m1.semantic);
  EXPECT_EQ(m1.prompt, "Q one");
  EXPECT_EQ(m1.partition, m2.partition);
  EXPECT_NE(m2.partition, m3.partition);
  // Responses: input as a string or as items; text.format counts.
  const Key r1 = key_of(R"({"model":"gpt-4o","temperature":0,"instructions":"I","input":"Q one"})", "t", semantic_config(), Endpoint::responses);
  const Key r2 = key_of(R"({"model":"gpt-4o","temperature":0,"instructions":"I","input":"Q two"})", "t", semantic_config(), Endpoint::responses);
  const Key r3 = key_of(R"({"model":"gpt-4o","temperature":0,"instructions":"I","input":"Q two","text":{"format":{"type":"json_object"}}})",
                        "t", semantic_config(), Endpoint::responses);
  const Key r4 = key_of(R"({"model":"gpt-4o","temperature":0,"input":[{"role":"user","content":[{"type":"input_text","text":"Q four"}]}],"reasoning":{"effort":"low"}})",
                        "t", semantic_config(), Endpoint::responses);
  EXPECT_EQ(r1.partition, r2.partition);
  EXPECT_NE(r2.exact, r3.exact);
  EXPECT_NE(r2.partition, r3.partition);
  EXPECT_TRUE(r4.semantic);
  EXPECT_EQ(r4.prompt, "Q four");
  // The same words through two APIs are two keys.
  const Key chat = key_of(R"({"model":"gpt-4o","temperature":0,"messages":[{"role":"user","content":"Q one"}]})");
  const Key messages = key_of(R"({"model":"gpt-4o","temperature":0,"messages":[{"role":"user","content":"Q one"}]})", "t",
                              semantic_config(), Endpoint::messages);
  EXPECT_NE(chat.partition, messages.partition);
  // Completions: the prompt string; embeddings: exact only.
  const Key c = key_of(R"({"model":"m","temperature":0,"prompt":"Once upon"})", "t", semantic_config(), Endpoint::completions);
  EXPECT_TRUE(c.semantic);
  EXPECT_EQ(c.prompt, "Once upon");
  const Key e1 = key_of(R"({"model":"e","input":"abc"})", "t", semantic_config(), Endpoint::embeddings);
  const Key e2 = key_of(R"({"model":"e","input":"abd"})", "t", semantic_config(), Endpoint::embeddings);
  EXPECT_FALSE(e1.semantic);
  EXPECT_NE(e1.exact, e2.exact);
}

TEST(CacheKey, LargeIntegersAndNumberSpellings) {
  const auto with_seed = [](std::string seed) {
    return key_of(R"({"model":"m","temperature":0,"seed":)" + seed + R"(,"messages":[{"role":"user","content":"x"}]})").exact;
  };
  EXPECT_NE(with_seed("9007199254740993"), with_seed("9007199254740992"));
  EXPECT_EQ(with_seed("5"), with_seed("5.0"));
  EXPECT_NE(with_seed("5"), with_seed("\"5\""));
}

}  // namespace
}  // namespace sluice::cache
