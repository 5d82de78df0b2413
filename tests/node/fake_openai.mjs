// A tiny fake of an OpenAI-compatible chat completions server for the node
// tests (the kind of upstream that speaks neither Anthropic's Messages API nor
// the Responses API, so Sluice translates both), on 127.0.0.1, port 0. It
// answers a fixed text, or, when tools are offered and the conversation does
// not end with a tool result, a call of the first tool; whole or streamed,
// with usage when asked for. Every request is recorded.
import { startFakeServer } from './fake_server.mjs';

export const TEXT = 'Paris is the capital of France.';
export const TOOL_ARGUMENTS = { location: 'Paris, FR' };
export const USAGE = { prompt_tokens: 31, completion_tokens: 9, total_tokens: 40 };

function toolCallFor(request) {
  const tools = request.tools ?? [];
  if (!tools.length || request.messages?.at(-1)?.role === 'tool') return null;
  return { id: 'call_NodeTest1', type: 'function', function: { name: tools[0].function.name, arguments: JSON.stringify(TOOL_ARGUMENTS) } };
}

function chunk(request, delta, finish = null, extra = {}) {
  return {
    id: 'chatcmpl-node', object: 'chat.completion.chunk', created: 1741570283, model: request.model,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }], ...extra,
  };
}

// Starts the fake; resolves to { port, received, close() }.
export function startFakeOpenAI() {
  return startFakeServer((req, res, body) => {
    if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
      res.writeHead(404, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ error: { message: `no route ${req.url}`, type: 'invalid_request_error', param: null, code: null } }));
    }
    const call = toolCallFor(body);
    if (!body.stream) {
      const message = call ? { role: 'assistant', content: null, tool_calls: [call] } : { role: 'assistant', content: TEXT };
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({
        id: 'chatcmpl-node', object: 'chat.completion', created: 1741570283, model: body.model,
        choices: [{ index: 0, message, logprobs: null, finish_reason: call ? 'tool_calls' : 'stop' }], usage: USAGE,
      }));
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const send = (data) => res.write(`data: ${JSON.stringify(data)}\n\n`);
    send(chunk(body, { role: 'assistant', content: '' }));
    if (call) {
      send(chunk(body, { tool_calls: [{ index: 0, id: call.id, type: 'function', function: { name: call.function.name, arguments: '' } }] }));
      const args = call.function.arguments;
      for (let i = 0; i < args.length; i += 6)
        send(chunk(body, { tool_calls: [{ index: 0, function: { arguments: args.slice(i, i + 6) } }] }));
    } else {
      for (let i = 0; i < TEXT.length; i += 5) send(chunk(body, { content: TEXT.slice(i, i + 5) }));
    }
    send(chunk(body, {}, call ? 'tool_calls' : 'stop'));
    if (body.stream_options?.include_usage) send({ ...chunk(body, {}), choices: [], usage: USAGE });
    res.write('data: [DONE]\n\n');
    res.end();
  });
}
