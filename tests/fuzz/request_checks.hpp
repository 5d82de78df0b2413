// Invariants every inbound dialect's parser keeps, shared by the request
// fuzz targets: a refused body is a 400 with a message whose error body is
// JSON in the dialect's shape; an accepted one keeps the client's bytes,
// locates its model exactly (so the model can be replaced without breaking
// the JSON), and its chat-completions translation, when it has one, is JSON
// that the chat-completions parser itself accepts.
#pragma once

#include <string>
#include <string_view>

#include "fuzz_support.hpp"
#include "openai_wire.hpp"
#include "reply.hpp"
#include "sluice/core/error.hpp"
#include "sluice/core/request.hpp"

namespace sluice::fuzz {

inline void check_refusal(const Error& error, server::Wire wire) {
  FUZZ_CHECK(error.code == errc::bad_request, error.message);
  FUZZ_CHECK(!error.message.empty(), "a refusal without a message");
  const server::Reply reply = server::error_reply(error, wire);
  FUZZ_CHECK(reply.status == 400, reply.body);
  FUZZ_CHECK(is_json(reply.body), reply.body);
}

// A body padded as the session reads it (the parsers validate in place).
inline std::string padded(std::string_view text) {
  std::string body;
  body.reserve(text.size() + server::kBodyPadding);
  body.assign(text);
  return body;
}

inline void check_model_span(const LlmRequest& req) {
  FUZZ_CHECK(!req.model.empty(), "an accepted request without a model");
  FUZZ_CHECK(req.model_offset + req.model_length <= req.body.size(), "the model span is outside the body");
  const std::string_view span = std::string_view(req.body).substr(req.model_offset, req.model_length);
  const auto value = nlohmann::json::parse(span, nullptr, false);
  FUZZ_CHECK(value.is_string() && value.get<std::string>() == req.model, span);
  const std::string replaced = req.body_for_model("fuzz/other-model");
  FUZZ_CHECK(is_json(replaced), "the body with its model replaced is not JSON");
  const auto doc = nlohmann::json::parse(replaced, nullptr, false);
  FUZZ_CHECK(doc.is_object() && doc.value("model", "") == "fuzz/other-model", replaced);
}

inline void check_accepted(const LlmRequest& req, std::string_view sent) {
  FUZZ_CHECK(req.body == sent, "the body going upstream is not the client's");
  check_model_span(req);
  if (req.as_chat) {
    const LlmRequest& chat = *req.as_chat;
    FUZZ_CHECK(!req.untranslatable, "a request both translated and untranslatable");
    FUZZ_CHECK(chat.endpoint == Endpoint::chat_completions, "a translation that is not chat completions");
    FUZZ_CHECK(is_json(chat.body), chat.body);
    check_model_span(chat);
    auto again = server::parse_request(Endpoint::chat_completions, padded(chat.body));
    FUZZ_CHECK(again.ok(), again.ok() ? std::string() : again.error().message + " in " + chat.body);
    FUZZ_CHECK(again->stream == chat.stream, "the translation's stream flag differs from what it says");
  }
  if (req.untranslatable) FUZZ_CHECK(!req.untranslatable->message.empty(), "a refusal without a message");
}

}  // namespace sluice::fuzz
