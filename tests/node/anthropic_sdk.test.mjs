// The official `@anthropic-ai/sdk` pointed at Sluice (base URL without /v1,
// the gateway key as its apiKey), as a coding agent would be: the Messages
// API served by an OpenAI-compatible upstream (translated both ways), by an
// Anthropic upstream (forwarded natively) and by the mock; messages.create,
// messages.stream with finalMessage(), a tool round trip, countTokens,
// models.list, and the SDK's error classes for the gateway's and the
// upstream's errors, with gateway keys configured.
//
//   SLUICE_BIN=/path/to/sluice node --test anthropic_sdk.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import { startDialectGateway } from './dialect_gateway.mjs';
import * as fakeAnthropic from './fake_anthropic.mjs';
import * as fakeOpenAI from './fake_openai.mjs';
import { testSecret } from './canary.mjs';

const KEY = testSecret('gw-node-anthropic');
const LIMITED_KEY = testSecret('gw-node-limited');

let gateway, sluice, anthropicUpstream, openaiUpstream, client;

before(async () => {
  gateway = await startDialectGateway({ auth: `
auth:
  keys:
    - key: ${KEY}
      tenant: agents
    - key: ${LIMITED_KEY}
      tenant: limited
      models: [mock-model]` });
  ({ sluice, anthropicUpstream, openaiUpstream } = gateway);
  // The Anthropic SDK appends /v1/messages itself: the base URL is the server.
  client = anthropic(KEY);
});

after(async () => {
  await gateway?.stop();
  const log = sluice?.logLines.join('\n') ?? '';
  assert.ok(!log.includes(KEY) && !log.includes(LIMITED_KEY), 'a gateway key reached the log');
});

function anthropic(apiKey, options = {}) {
  return new Anthropic({ baseURL: sluice.baseURL.replace(/\/v1$/, ''), apiKey, maxRetries: 0, timeout: 10_000, ...options });
}

const ASK = { max_tokens: 256, messages: [{ role: 'user', content: 'What is the capital of France?' }] };

const TOOLS = [{
  name: 'get_weather',
  description: 'Current weather for a place',
  input_schema: { type: 'object', properties: { location: { type: 'string' } }, required: ['location'] },
}];

// --- served through chat completions -------------------------------------------------

test('messages.create through an OpenAI-compatible upstream', async () => {
  openaiUpstream.received.length = 0;
  const { data: message, response } = await client.messages
    .create({ model: 'gpt-like', system: 'Be brief.', ...ASK }).withResponse();
  assert.equal(message.type, 'message');
  assert.equal(message.role, 'assistant');
  assert.deepEqual(message.content, [{ type: 'text', text: fakeOpenAI.TEXT }]);
  assert.equal(message.stop_reason, 'end_turn');
  assert.equal(message.usage.input_tokens, fakeOpenAI.USAGE.prompt_tokens);
  assert.equal(message.usage.output_tokens, fakeOpenAI.USAGE.completion_tokens);
  assert.equal(response.headers.get('request-id'), response.headers.get('x-request-id'));
  const sent = openaiUpstream.received[0];
  assert.equal(sent.url, '/v1/chat/completions');
  assert.deepEqual(sent.body.messages, [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'What is the capital of France?' },
  ]);
  assert.equal(sent.body.model, 'gpt-upstream');
  assert.equal(sent.body.max_tokens, 256);
});

test('messages.stream and finalMessage() give the same message', async () => {
  const plain = await client.messages.create({ model: 'gpt-like', ...ASK });
  const stream = client.messages.stream({ model: 'gpt-like', ...ASK });
  let text = '';
  stream.on('text', (delta) => { text += delta; });
  const final = await stream.finalMessage();
  assert.equal(text, fakeOpenAI.TEXT);
  assert.deepEqual(final.content, plain.content);
  assert.equal(final.stop_reason, 'end_turn');
  assert.equal(final.usage.output_tokens, plain.usage.output_tokens);
  assert.equal(final.usage.input_tokens, plain.usage.input_tokens, 'message_delta carries the real input tokens');
});

test('tool use round trip, plain and streamed', async () => {
  const ask = { model: 'gpt-like', max_tokens: 256, tools: TOOLS, messages: [{ role: 'user', content: 'Weather in Paris?' }] };
  const call = await client.messages.create(ask);
  assert.equal(call.stop_reason, 'tool_use');
  const use = call.content.find((b) => b.type === 'tool_use');
  assert.equal(use.name, 'get_weather');
  assert.deepEqual(use.input, fakeOpenAI.TOOL_ARGUMENTS);

  const streamed = await client.messages.stream(ask).finalMessage();
  assert.equal(streamed.stop_reason, 'tool_use');
  const streamedUse = streamed.content.find((b) => b.type === 'tool_use');
  assert.equal(streamedUse.id, use.id);
  assert.deepEqual(streamedUse.input, use.input, 'input_json_delta pieces assemble to the same input');

  openaiUpstream.received.length = 0;
  const answer = await client.messages.create({
    ...ask,
    messages: [...ask.messages, { role: 'assistant', content: call.content },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: '18°C and sunny' }] }],
  });
  assert.equal(answer.stop_reason, 'end_turn');
  assert.equal(answer.content[0].text, fakeOpenAI.TEXT);
  const sent = openaiUpstream.received[0].body.messages;
  assert.equal(sent[1].tool_calls[0].id, use.id);
  assert.deepEqual(sent[2], { role: 'tool', tool_call_id: use.id, content: '18°C and sunny' });
});

test('countTokens without an Anthropic upstream is the gateway\'s estimate', async () => {
  const { data, response } = await client.messages.countTokens({ model: 'gpt-like', messages: ASK.messages }).withResponse();
  assert.ok(data.input_tokens > 0);
  assert.equal(response.headers.get('x-sluice-token-count'), 'estimated');
});

// --- forwarded to Anthropic ----------------------------------------------------------

test('messages.create and stream to an Anthropic upstream go through untouched', async () => {
  anthropicUpstream.received.length = 0;
  const body = { model: 'claude', ...ASK, metadata: { user_id: 'agent-7' },
    system: [{ type: 'text', text: 'Be brief.', cache_control: { type: 'ephemeral' } }] };
  const message = await client.messages.create(body);
  assert.deepEqual(message.content, [{ type: 'text', text: fakeAnthropic.TEXT }]);
  assert.equal(message.id, 'msg_01NodeTest', "the upstream's own message");
  assert.deepEqual(message.usage, fakeAnthropic.USAGE);
  const sent = anthropicUpstream.received[0];
  assert.deepEqual(sent.body, { ...body, model: fakeAnthropic.UPSTREAM_MODEL }, 'cache_control and all');
  assert.match(sent.headers['anthropic-version'], /^\d{4}-\d{2}-\d{2}$/);
  assert.notEqual(sent.headers['anthropic-version'], '2023-01-01', "the SDK's own version, not the configured one");
  assert.equal(sent.headers['x-api-key'], fakeAnthropic.API_KEY, "the provider's key, never the client's");

  const final = await client.messages.stream(body).finalMessage();
  assert.deepEqual(final.content, message.content);
  assert.deepEqual(final.usage, message.usage);
});

test('tool use to an Anthropic upstream, and its countTokens', async () => {
  const ask = { model: 'claude', max_tokens: 256, tools: TOOLS, messages: [{ role: 'user', content: 'Weather in Paris?' }] };
  const final = await client.messages.stream(ask).finalMessage();
  assert.equal(final.stop_reason, 'tool_use');
  assert.deepEqual(final.content.find((b) => b.type === 'tool_use').input, fakeAnthropic.TOOL_INPUT);
  const counted = await client.messages.countTokens({ model: 'claude', messages: ask.messages });
  assert.equal(counted.input_tokens, 42, "the upstream's count");
});

test('the mock serves the Messages API too', async () => {
  const message = await client.messages.create({ model: 'mock-model', ...ASK });
  assert.equal(message.content[0].type, 'text');
  assert.ok(message.content[0].text.length > 0);
  const final = await client.messages.stream({ model: 'mock-model', ...ASK }).finalMessage();
  assert.equal(final.content[0].text, message.content[0].text, 'the mock is deterministic');
});

test('models.list in Anthropic\'s shape', async () => {
  const ids = [];
  for await (const model of client.models.list()) {
    assert.equal(model.type, 'model');
    ids.push(model.id);
  }
  assert.deepEqual(ids, ['gpt-like', 'claude', 'mock-model']);
});

// --- errors as the SDK classifies them ------------------------------------------------

test('a wrong or missing gateway key is AuthenticationError, in either header', async () => {
  for (const c of [anthropic(testSecret('wrong-key')), new Anthropic({
    baseURL: sluice.baseURL.replace(/\/v1$/, ''), apiKey: null, authToken: testSecret('wrong-key'), maxRetries: 0 })]) {
    await assert.rejects(c.messages.create({ model: 'gpt-like', ...ASK }), (err) => {
      assert.ok(err instanceof Anthropic.AuthenticationError, `got ${err?.constructor?.name}: ${err?.message}`);
      assert.equal(err.status, 401);
      assert.equal(err.type, 'authentication_error');
      assert.ok(err.requestID, 'request-id header');
      return true;
    });
  }
});

test('a model off the key\'s list is PermissionDeniedError; a bad request BadRequestError', async () => {
  await assert.rejects(anthropic(LIMITED_KEY).messages.create({ model: 'gpt-like', ...ASK }), (err) => {
    assert.ok(err instanceof Anthropic.PermissionDeniedError, `got ${err?.constructor?.name}: ${err?.message}`);
    assert.equal(err.type, 'permission_error');
    return true;
  });
  await assert.rejects(client.messages.create({ model: 'gpt-like', ...ASK, tools: [{ type: 'web_search_20250305', name: 'web_search' }] }),
    (err) => {
      assert.ok(err instanceof Anthropic.BadRequestError, `got ${err?.constructor?.name}: ${err?.message}`);
      assert.match(err.apiMessage, /^tools\.0\.type: /);
      return true;
    });
});

test('an overloaded Anthropic upstream is OverloadedError after the gateway\'s own retries only', async () => {
  const before = anthropicUpstream.received.length;
  const retrying = anthropic(KEY, { maxRetries: 2 });  // the SDK's default
  await assert.rejects(retrying.messages.create({ model: 'claude', max_tokens: 16, messages: [{ role: 'user', content: 'overload' }] }),
    (err) => {
      assert.ok(err instanceof Anthropic.OverloadedError, `got ${err?.constructor?.name}: ${err?.message}`);
      assert.equal(err.status, 529);
      assert.equal(err.headers.get('x-should-retry'), 'false');
      return true;
    });
  assert.equal(anthropicUpstream.received.length - before, 3, 'gateway attempts x SDK attempts must stay at 3, not 9');
});
