// A tiny fake of Anthropic's Messages API for the node tests, on 127.0.0.1
// (port 0): it answers a fixed text, or, when tools are offered and the
// conversation does not end with a tool result, a call of the first tool;
// whole or as an SSE stream with pings and named events, as Anthropic
// streams them. It checks x-api-key, fails on request (a prompt containing
// "overload" or "reject"), answers POST /v1/messages/count_tokens, and
// records every request.
import { startFakeServer } from './fake_server.mjs';
import { testSecret } from './canary.mjs';

export const API_KEY = testSecret('provider-claude');
export const UPSTREAM_MODEL = 'claude-sonnet-4-20250514';
export const TEXT = 'The Danube, the Rhine and the Loire — all "European" rivers.';
export const TOOL_INPUT = { location: 'Paris, FR', unit: 'celsius' };
export const USAGE = { input_tokens: 20, cache_creation_input_tokens: 3, cache_read_input_tokens: 5, output_tokens: 12 };

function pieces(text, size) {
  const out = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

function endsWithToolResult(request) {
  const last = request.messages?.at(-1);
  return Array.isArray(last?.content) && last.content.some((b) => b.type === 'tool_result');
}

// The answer's content blocks: a tool call when tools were offered, else text.
function contentFor(request) {
  if (request.tools?.length && !endsWithToolResult(request)) {
    return [
      { type: 'text', text: 'Checking.' },
      { type: 'tool_use', id: 'toolu_01NodeTest', name: request.tools[0].name, input: TOOL_INPUT },
    ];
  }
  return [{ type: 'text', text: TEXT }];
}

function message(request) {
  const content = contentFor(request);
  return {
    id: 'msg_01NodeTest', type: 'message', role: 'assistant', model: UPSTREAM_MODEL, content,
    stop_reason: content.some((b) => b.type === 'tool_use') ? 'tool_use' : 'end_turn', stop_sequence: null,
    usage: USAGE,
  };
}

// The same message as Anthropic streams it, pings and all.
function events(request) {
  const m = message(request);
  const out = [
    ['message_start', { type: 'message_start', message: { ...m, content: [], stop_reason: null, usage: { ...USAGE, output_tokens: 1 } } }],
    ['ping', { type: 'ping' }],
  ];
  m.content.forEach((block, index) => {
    if (block.type === 'text') {
      out.push(['content_block_start', { type: 'content_block_start', index, content_block: { type: 'text', text: '' } }]);
      for (const text of pieces(block.text, 7))
        out.push(['content_block_delta', { type: 'content_block_delta', index, delta: { type: 'text_delta', text } }]);
    } else {
      out.push(['content_block_start', { type: 'content_block_start', index, content_block: { ...block, input: {} } }]);
      for (const partial_json of ['', ...pieces(JSON.stringify(block.input), 5)])
        out.push(['content_block_delta', { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json } }]);
    }
    out.push(['content_block_stop', { type: 'content_block_stop', index }]);
  });
  out.push(['message_delta', { type: 'message_delta', delta: { stop_reason: m.stop_reason, stop_sequence: null }, usage: { output_tokens: USAGE.output_tokens } }]);
  out.push(['message_stop', { type: 'message_stop' }]);
  return out;
}

function anthropicError(res, status, type, text) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ type: 'error', error: { type, message: text }, request_id: 'req_node' }));
}

// Starts the fake; resolves to { port, received, close() }.
export function startFakeAnthropic() {
  return startFakeServer((req, res, body) => {
    if (req.headers['x-api-key'] !== API_KEY) return anthropicError(res, 401, 'authentication_error', 'invalid x-api-key');
    if (req.method === 'POST' && req.url === '/v1/messages/count_tokens') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ input_tokens: 42 }));
    }
    if (req.method !== 'POST' || req.url !== '/v1/messages') return anthropicError(res, 404, 'not_found_error', 'Not found');
    const prompt = JSON.stringify(body.messages);
    if (prompt.includes('overload')) return anthropicError(res, 529, 'overloaded_error', 'Overloaded');
    if (prompt.includes('reject')) return anthropicError(res, 400, 'invalid_request_error', 'messages.0: rejected for the test');
    if (!body.stream) {
      res.writeHead(200, { 'content-type': 'application/json', 'anthropic-ratelimit-requests-remaining': '49' });
      return res.end(JSON.stringify(message(body)));
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    for (const [name, data] of events(body)) res.write(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`);
    res.end();
  });
}
