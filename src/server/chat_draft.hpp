// The chat-completions translation of a request in another dialect, written
// while its parser validates it (anthropic_wire, responses_wire): the chat
// messages in order, consecutive assistant text and tool calls joined into
// one assistant message as chat completions wants them, and the first thing
// chat completions cannot honour, which stops the writing (validation goes
// on, so a malformed body is still a 400 whatever deployment would have
// served it). Linear in what is written.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/core/error.hpp"
#include "sluice/core/request.hpp"

namespace sluice::server {

class ChatDraft {
 public:
  // The request cannot be translated: a 400 naming `param`. The first one stands.
  void refuse(std::string message, std::string param);

  // One chat message (its JSON object text), after any pending assistant message.
  void add(std::string message);
  // Assistant text and tool calls; consecutive ones form one assistant
  // message (texts joined by a blank line), text after calls starts another.
  void assistant_text(std::string_view text);
  void tool_call(std::string_view id, std::string_view name, std::string_view arguments);

  // Sets req.as_chat to the chat-completions request the draft wrote, with
  // `options` (",\"key\":value..." members) after its messages, or
  // req.untranslatable to the refusal (also when no message was written).
  // Takes req's model, stream,
  // max_tokens and texts; the draft is spent.
  void finish(LlmRequest& req, std::string_view options);

 private:
  void flush();
  void append(const std::string& message);

  std::string messages_;
  std::string text_, calls_;  // the pending assistant message
  bool pending_ = false;
  std::optional<Error> refused_;
};

// A prompt text noted for token estimates (LlmRequest::messages); empty ones are not.
void note(std::vector<Message>& texts, std::string_view role, std::string_view text);

}  // namespace sluice::server
