// FakeUpstream: an in-process OpenAI-compatible HTTP(S) server for tests.
//
// It listens on 127.0.0.1:<ephemeral port> and runs its own io_context on its own
// thread, so a test drives it from the GoogleTest thread: every public member is
// thread-safe. The constructor starts serving; the destructor stops the thread and
// returns promptly even with open connections or "hanging" requests.
//
// Behaviour is steered per server (set_behaviour) or per request: a top-level
// "x_fake" object in the JSON body overrides Behaviour fields by name, e.g.
//   {"model":"m","messages":[...],"x_fake":{"status":503,"retry_after_s":2}}
// An unknown or mistyped x_fake field is answered with 400, so a typo in a test
// fails loudly instead of silently using the defaults.
//
// Endpoints: POST /v1/chat/completions, POST /v1/completions (both with "stream"),
// POST /v1/embeddings, GET /v1/models; the same below Azure's
// /openai/deployments/{deployment}/ and /openai/v1/ (query ignored); POST
// /v1/responses (OpenAI's Responses API, also as Azure's /openai/responses);
// Anthropic's POST /v1/messages and /v1/messages/count_tokens (its named
// events, its error shape); Ollama's GET /api/tags (its errors in Ollama's
// {"error":"..."} shape); anything else is 404. Every request is
// recorded, and connection opens/closes are counted (a close by the peer is noticed
// within milliseconds, even while a response is delayed or hanging).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace sluice::test {

struct Behaviour {
  int status = 200;            // != 200: answer an OpenAI-shaped error (or error_body)
  int status_until = 0;        // > 0: `status` only for the server's requests 1..status_until, then 200
  // > 0: `status` only for every status_every-th request of the server (the
  // 1st, the (1 + status_every)-th, ...), the others answered normally:
  // 2 is an upstream failing half its requests.
  int status_every = 0;
  int delay_ms = 0;            // wait before the response head
  int stream_chunks = 3;       // content chunks "c0", "c1", ... in a stream
  int chunk_delay_ms = 0;      // wait before each content chunk
  // Stream: > 0 puts an SSE comment event of this many bytes before each
  // content chunk (made as it is written): a large, fast stream.
  int event_pad = 0;
  // Stream: close the socket abruptly after this many content chunks (no final
  // HTTP chunk, no [DONE]; no effect when above stream_chunks). Non-stream: send
  // the head (with the full Content-Length) and only the first drop_after body
  // bytes, then close.
  int drop_after = -1;
  bool hang = false;           // read the request, never answer (until the peer closes)
  // Write the whole answer (head and body) one byte at a time, pausing this
  // long before each byte: an upstream that trickles.
  int trickle_ms = 0;
  // Read the request, then reset the connection (TCP RST) without a byte of answer.
  bool reset_before_head = false;
  // The abrupt closes of drop_after and drop_before_events send a TCP reset, not a FIN.
  bool reset = false;
  // Stream: the first content chunk's text is "c0" followed by this many 'x'
  // (one event as large as wanted).
  int pad_bytes = 0;
  int retry_after_s = -1;      // Retry-After header on the response when >= 0
  bool embed_base64 = false;   // embeddings as base64 even when floats were asked
  bool embed_floats_always = false;  // embeddings as floats even when base64 was asked
  bool no_done = false;        // stream ends with the final HTTP chunk but no "data: [DONE]"
  bool drop_before_events = false;  // stream: send the 200 head, then close before any event
  std::string error_body;      // non-empty: the exact body for non-200 statuses
  // Non-empty: the exact body of a 200 answer, sent whole (not as a stream)
  // even when a stream was asked for, e.g. a CDN's HTML page.
  std::string success_body;
  std::string content_type;    // of a non-stream answer; empty: application/json
  // Stream: at this index among all events (0: the first), an extra event
  // whose data is not JSON.
  int garbage_event_at = -1;
  bool close_after_response = false;  // answer with Connection: close, then close
  // Stream: open with Azure's chunk whose "choices" is empty (prompt_filter_results).
  bool azure_prompt_filter = false;
  // Answer with a call of the first tool the request offers (chat tool_calls,
  // Anthropic tool_use, a Responses function_call), unless the conversation
  // ends with a tool's result, which is answered with text.
  bool tool_calls = false;
  std::vector<std::string> tags = {"fake-model"};  // GET /api/tags (Ollama); set_behaviour only
  // Extra headers on every answer (set-cookie, openai-organization...); set_behaviour only.
  std::vector<std::pair<std::string, std::string>> response_headers;
};

struct Recorded {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  // lower-case names; repeats joined by ", "
  std::string body;
  int connection_id = 0;  // 1-based, in accept order
  std::chrono::steady_clock::time_point at;  // when its head and body were read
};

// Declared outside FakeUpstream so that `Options = {}` works as a default argument
// (a nested struct with member initializers is incomplete inside its class).
struct FakeUpstreamOptions {
  bool tls = false;  // serve HTTPS with a self-signed CN=localhost certificate
};

class FakeUpstream {
 public:
  using Options = FakeUpstreamOptions;

  // Binds, generates the certificate (tls), and starts the server thread.
  // Throws on failure (test setup error).
  explicit FakeUpstream(Options options = {});
  ~FakeUpstream();
  FakeUpstream(const FakeUpstream&) = delete;
  FakeUpstream& operator=(const FakeUpstream&) = delete;

  uint16_t port() const;
  // "http://127.0.0.1:PORT/v1", or "https://localhost:PORT/v1" with tls.
  std::string base_url() const;
  // PEM file holding the self-signed certificate to trust (empty without tls).
  // The certificate names DNS:localhost only, so https://127.0.0.1 must fail
  // host-name verification.
  std::string ca_file() const;

  // Default behaviour for requests that arrive after this call.
  void set_behaviour(Behaviour behaviour);
  Behaviour behaviour() const;

  std::vector<Recorded> requests() const;
  std::size_t request_count() const;
  int connections_accepted() const;
  // Bytes written to clients so far, heads and bodies (a write that blocks
  // counts once it completed).
  std::size_t bytes_written() const;
  // Connections whose socket was closed by either side.
  int connections_closed() const;
  // Block until the count reaches n or the timeout passes; true when reached.
  bool wait_for_closed(int n, std::chrono::milliseconds timeout);
  bool wait_for_requests(std::size_t n, std::chrono::milliseconds timeout);
  // Forget recorded requests and zero the connection counters (connection ids
  // keep increasing, so late events from old connections are still told apart).
  void reset_records();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::test
