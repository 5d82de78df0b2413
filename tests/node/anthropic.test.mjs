// A `type: anthropic` provider driven by the official `openai` npm client: a
// tiny fake Anthropic Messages API in this process (127.0.0.1, port 0) answers
// the same prompt whole or as an SSE stream, sluice sits in front of it, and
// the client must not be able to tell the two apart: same text, same usage,
// same tool call.
//
//   SLUICE_BIN=/path/to/sluice node --test anthropic.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import OpenAI from 'openai';
import { startSluice } from './daemon.mjs';

const API_KEY = 'sk-ant-node-test';
const UPSTREAM_MODEL = 'claude-sonnet-4-20250514';
const TEXT = 'The Danube, the Rhine and the Loire — all "European" rivers.';
const TOOL_INPUT = { location: 'Paris, FR', unit: 'celsius' };
const USAGE = { input_tokens: 20, cache_creation_input_tokens: 3, cache_read_input_tokens: 5, output_tokens: 12 };

// --- the fake Anthropic API -------------------------------------------------

const received = [];  // { method, url, headers, body } per request

function pieces(text, size) {
  const out = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

// The answer's content blocks: a tool call when tools were offered, else text.
function contentFor(request) {
  if (request.tools?.length) {
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

const upstream = http.createServer((req, res) => {
  let raw = '';
  req.setEncoding('utf8');
  req.on('data', (d) => { raw += d; });
  req.on('end', () => {
    const body = JSON.parse(raw);
    received.push({ method: req.method, url: req.url, headers: req.headers, body });
    if (req.method !== 'POST' || req.url !== '/v1/messages') return anthropicError(res, 404, 'not_found_error', 'Not found');
    if (req.headers['x-api-key'] !== API_KEY) return anthropicError(res, 401, 'authentication_error', 'invalid x-api-key');
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
});

// --- sluice in front of it --------------------------------------------------

let sluice;
let client;

before(async () => {
  await new Promise((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const config = `
server:
  listen: "127.0.0.1:0"
  shutdown_grace: 2s
providers:
  - name: claude
    type: anthropic
    base_url: http://127.0.0.1:${upstream.address().port}
    api_key: ${API_KEY}
models:
  - name: claude-sonnet
    deployments:
      - { provider: claude, model: ${UPSTREAM_MODEL} }
logging:
  level: info
`;
  sluice = await startSluice(config);
  client = new OpenAI({ baseURL: sluice.baseURL, apiKey: 'unused', maxRetries: 0, timeout: 10_000 });
});

after(async () => {
  try {
    await sluice?.stop();
  } finally {
    await new Promise((resolve) => upstream.close(resolve));
  }
});

const PROMPT = [
  { role: 'system', content: 'You are terse.' },
  { role: 'user', content: 'Name three rivers in Europe.' },
];

const TOOLS = [{
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Current weather for a place',
    parameters: { type: 'object', properties: { location: { type: 'string' }, unit: { type: 'string' } }, required: ['location'] },
  },
}];

test('the upstream receives an Anthropic Messages request with x-api-key and anthropic-version', async () => {
  received.length = 0;
  await client.chat.completions.create({ model: 'claude-sonnet', messages: PROMPT, max_tokens: 64 });
  assert.equal(received.length, 1);
  const { url, headers, body } = received[0];
  assert.equal(url, '/v1/messages');
  assert.equal(headers['x-api-key'], API_KEY);
  assert.equal(headers['anthropic-version'], '2023-06-01');
  assert.equal(headers.authorization, undefined);
  assert.equal(body.model, UPSTREAM_MODEL);
  assert.equal(body.system, 'You are terse.');
  assert.equal(body.max_tokens, 64);
  assert.deepEqual(body.messages, [{ role: 'user', content: [{ type: 'text', text: 'Name three rivers in Europe.' }] }]);
});

test('streaming with include_usage yields the same text and usage as non-streaming', async () => {
  const plain = await client.chat.completions.create({ model: 'claude-sonnet', messages: PROMPT });
  assert.equal(plain.object, 'chat.completion');
  assert.equal(plain.model, UPSTREAM_MODEL);
  assert.equal(plain.choices[0].message.role, 'assistant');
  assert.equal(plain.choices[0].message.content, TEXT);
  assert.equal(plain.choices[0].finish_reason, 'stop');
  const promptTokens = USAGE.input_tokens + USAGE.cache_creation_input_tokens + USAGE.cache_read_input_tokens;
  assert.equal(plain.usage.prompt_tokens, promptTokens);
  assert.equal(plain.usage.completion_tokens, USAGE.output_tokens);
  assert.equal(plain.usage.total_tokens, promptTokens + USAGE.output_tokens);

  const stream = await client.chat.completions.create({
    model: 'claude-sonnet', messages: PROMPT, stream: true, stream_options: { include_usage: true },
  });
  let text = '';
  let usage = null;
  let finish = null;
  let role = null;
  let chunks = 0;
  for await (const chunk of stream) {
    chunks++;
    assert.equal(chunk.object, 'chat.completion.chunk');
    assert.equal(chunk.id, plain.id);
    for (const choice of chunk.choices) {
      role ??= choice.delta?.role ?? null;
      if (choice.delta?.content) text += choice.delta.content;
      if (choice.finish_reason) finish = choice.finish_reason;
    }
    if (chunk.usage) {
      assert.equal(chunk.choices.length, 0, 'the usage chunk has no choices');
      usage = chunk.usage;
    }
  }
  assert.ok(chunks > 4, `got ${chunks} chunks`);
  assert.equal(role, 'assistant');
  assert.equal(text, plain.choices[0].message.content);
  assert.equal(finish, 'stop');
  assert.deepEqual(usage, plain.usage);
});

test('streaming without include_usage sends no usage chunk', async () => {
  const stream = await client.chat.completions.create({ model: 'claude-sonnet', messages: PROMPT, stream: true });
  let text = '';
  for await (const chunk of stream) {
    assert.ok(!chunk.usage, 'no usage chunk unless asked');
    text += chunk.choices[0]?.delta?.content ?? '';
  }
  assert.equal(text, TEXT);
});

test('a tool-call stream reassembles into the same tool call as the non-streamed answer', async () => {
  const messages = [{ role: 'user', content: 'Weather in Paris?' }];
  const plain = await client.chat.completions.create({ model: 'claude-sonnet', messages, tools: TOOLS });
  const expected = plain.choices[0].message;
  assert.equal(plain.choices[0].finish_reason, 'tool_calls');
  assert.equal(expected.content, 'Checking.');
  assert.equal(expected.tool_calls.length, 1);
  assert.deepEqual(JSON.parse(expected.tool_calls[0].function.arguments), TOOL_INPUT);

  // The SDK's own stream helper reassembles deltas the way applications do.
  const runner = client.chat.completions.stream({
    model: 'claude-sonnet', messages, tools: TOOLS, stream_options: { include_usage: true },
  });
  const final = await runner.finalChatCompletion();
  const streamed = final.choices[0].message;
  assert.equal(final.choices[0].finish_reason, 'tool_calls');
  assert.equal(streamed.content, expected.content);
  assert.equal(streamed.tool_calls.length, 1);
  assert.equal(streamed.tool_calls[0].id, expected.tool_calls[0].id);
  assert.equal(streamed.tool_calls[0].type, 'function');
  assert.equal(streamed.tool_calls[0].function.name, 'get_weather');
  assert.deepEqual(JSON.parse(streamed.tool_calls[0].function.arguments), TOOL_INPUT);
  assert.deepEqual(final.usage, plain.usage);

  // The tool result goes back as an Anthropic tool_result in a user turn.
  received.length = 0;
  await client.chat.completions.create({
    model: 'claude-sonnet', tools: TOOLS,
    messages: [...messages, expected, { role: 'tool', tool_call_id: expected.tool_calls[0].id, content: '18°C' }],
  });
  const sent = received[0].body.messages;
  assert.deepEqual(sent[1].content.at(-1), { type: 'tool_use', id: 'toolu_01NodeTest', name: 'get_weather', input: TOOL_INPUT });
  assert.deepEqual(sent[2], { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_01NodeTest', content: '18°C' }] });
});

test('Anthropic errors reach the client in OpenAI shape with the right class', async () => {
  await assert.rejects(
    client.chat.completions.create({ model: 'claude-sonnet', messages: [{ role: 'user', content: 'please reject' }] }),
    (err) => {
      assert.ok(err instanceof OpenAI.BadRequestError, `got ${err?.constructor?.name}: ${err?.message}`);
      assert.equal(err.error?.message, 'messages.0: rejected for the test');
      return true;
    });
  // One retry layer: the gateway retried the overloaded upstream itself
  // (1 + max_retries 2 attempts), so it tells the SDK not to multiply them.
  // This client keeps the SDK's default of 2 retries: it must not use them.
  const retrying = new OpenAI({ baseURL: sluice.baseURL, apiKey: 'unused', timeout: 10_000 });
  const overloadsBefore = received.filter((r) => JSON.stringify(r.body).includes('overload')).length;
  await assert.rejects(
    retrying.chat.completions.create({ model: 'claude-sonnet', messages: [{ role: 'user', content: 'overload' }], stream: true }),
    (err) => {
      assert.ok(err instanceof OpenAI.InternalServerError, `got ${err?.constructor?.name}: ${err?.message}`);
      assert.equal(err.status, 502);
      assert.equal(err.headers.get('x-should-retry'), 'false');
      return true;
    });
  const overloads = received.filter((r) => JSON.stringify(r.body).includes('overload')).length - overloadsBefore;
  assert.equal(overloads, 3, 'gateway attempts x SDK attempts must stay at 3, not 9');
  await assert.rejects(
    client.chat.completions.create({ model: 'claude-sonnet', messages: PROMPT, n: 2 }),
    (err) => {
      assert.ok(err instanceof OpenAI.BadRequestError, `got ${err?.constructor?.name}: ${err?.message}`);
      assert.equal(err.param, 'n');
      return true;
    });
  await assert.rejects(
    client.embeddings.create({ model: 'claude-sonnet', input: 'hi' }),
    (err) => {
      assert.ok(err instanceof OpenAI.BadRequestError, `got ${err?.constructor?.name}: ${err?.message}`);
      assert.match(err.message, /provider 'claude'.*\/v1\/embeddings/);
      return true;
    });
});
