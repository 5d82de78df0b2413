// A `type: anthropic` provider driven by the official `openai` npm client: a
// tiny fake Anthropic Messages API in this process (127.0.0.1, port 0) answers
// the same prompt whole or as an SSE stream, sluice sits in front of it, and
// the client must not be able to tell the two apart: same text, same usage,
// same tool call.
//
//   SLUICE_BIN=/path/to/sluice node --test anthropic.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startSluice } from './daemon.mjs';
import { API_KEY, UPSTREAM_MODEL, TEXT, TOOL_INPUT, USAGE, startFakeAnthropic } from './fake_anthropic.mjs';
import { testSecret } from './canary.mjs';

// --- the fake Anthropic API (fake_anthropic.mjs) ------------------------------

let upstream;
let received;

// --- sluice in front of it --------------------------------------------------

let sluice;
let client;

before(async () => {
  upstream = await startFakeAnthropic();
  received = upstream.received;
  const config = `
server:
  listen: "127.0.0.1:0"
  shutdown_grace: 2s
providers:
  - name: claude
    type: anthropic
    base_url: http://127.0.0.1:${upstream.port}
    api_key: ${API_KEY}
models:
  - name: claude-sonnet
    deployments:
      - { provider: claude, model: ${UPSTREAM_MODEL} }
logging:
  level: info
`;
  sluice = await startSluice(config);
  client = new OpenAI({ baseURL: sluice.baseURL, apiKey: testSecret('client'), maxRetries: 0, timeout: 10_000 });
});

after(async () => {
  try {
    await sluice?.stop();
  } finally {
    await upstream?.close();
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
  const retrying = new OpenAI({ baseURL: sluice.baseURL, apiKey: testSecret('client'), timeout: 10_000 });
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
