// The official `openai` npm client's Responses API (`client.responses`)
// pointed at Sluice: stateless requests served by the mock, by an
// OpenAI-compatible chat upstream and by an Anthropic upstream, all through
// the chat-completions translation. responses.create plain and streamed
// (the SDK's own stream helper rebuilds the response from the events),
// function tools with their round trip, and what a stateless translation
// refuses.
//
//   SLUICE_BIN=/path/to/sluice node --test responses.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startDialectGateway } from './dialect_gateway.mjs';
import * as fakeAnthropic from './fake_anthropic.mjs';
import * as fakeOpenAI from './fake_openai.mjs';
import { testSecret } from './canary.mjs';

let gateway, anthropicUpstream, openaiUpstream, client;

before(async () => {
  gateway = await startDialectGateway();
  ({ anthropicUpstream, openaiUpstream } = gateway);
  client = new OpenAI({ baseURL: gateway.sluice.baseURL, apiKey: testSecret('client'), maxRetries: 0, timeout: 10_000 });
});

after(async () => {
  await gateway?.stop();
});

const TOOLS = [{
  type: 'function',
  name: 'get_weather',
  description: 'Current weather for a place',
  parameters: { type: 'object', properties: { location: { type: 'string' } }, required: ['location'], additionalProperties: false },
  strict: true,
}];

test('responses.create, plain', async () => {
  for (const model of ['mock-model', 'gpt-like', 'claude']) {
    const response = await client.responses.create({
      model, instructions: 'Be brief.', input: 'Tell me about rivers.', max_output_tokens: 200,
    });
    assert.equal(response.object, 'response', model);
    assert.equal(response.status, 'completed', model);
    assert.ok(response.output_text.length > 0, `${model}: the SDK's output_text`);
    assert.ok(response.usage.input_tokens > 0 && response.usage.output_tokens > 0, model);
    assert.equal(response.usage.total_tokens, response.usage.input_tokens + response.usage.output_tokens);
    assert.equal(response.instructions, 'Be brief.');
    assert.equal(response.max_output_tokens, 200);
  }
  const viaChat = await client.responses.create({ model: 'gpt-like', input: 'Capital of France?' });
  assert.equal(viaChat.output_text, fakeOpenAI.TEXT);
  const viaAnthropic = await client.responses.create({ model: 'claude', input: 'Rivers?' });
  assert.equal(viaAnthropic.output_text, fakeAnthropic.TEXT);
  const prompt = fakeAnthropic.USAGE.input_tokens + fakeAnthropic.USAGE.cache_creation_input_tokens +
    fakeAnthropic.USAGE.cache_read_input_tokens;
  assert.equal(viaAnthropic.usage.input_tokens, prompt);
  assert.equal(viaAnthropic.usage.input_tokens_details.cached_tokens, fakeAnthropic.USAGE.cache_read_input_tokens);
});

test('responses.create streamed: events in order, the same text as plain', async () => {
  for (const model of ['mock-model', 'gpt-like', 'claude']) {
    const plain = await client.responses.create({ model, input: 'Tell me about rivers.' });
    const stream = await client.responses.create({ model, input: 'Tell me about rivers.', stream: true });
    const types = [];
    let text = '';
    let completed;
    for await (const event of stream) {
      assert.equal(event.sequence_number, types.length, `${model}: sequence numbers count from 0`);
      types.push(event.type);
      if (event.type === 'response.output_text.delta') text += event.delta;
      if (event.type === 'response.completed') completed = event.response;
    }
    assert.deepEqual(types.slice(0, 4), ['response.created', 'response.in_progress', 'response.output_item.added',
      'response.content_part.added'], model);
    assert.equal(types.at(-1), 'response.completed', model);
    assert.equal(text, plain.output_text, model);
    assert.equal(completed.output[0].content[0].text, text, model);
    assert.equal(completed.usage.output_tokens, plain.usage.output_tokens, model);
  }
});

test('responses.stream: the SDK rebuilds the final response from the events', async () => {
  const runner = client.responses.stream({ model: 'gpt-like', input: 'Capital of France?' });
  let deltas = '';
  runner.on('response.output_text.delta', (event) => { deltas += event.delta; });
  const final = await runner.finalResponse();
  assert.equal(final.status, 'completed');
  // (This SDK version sets output_text on finalResponse() only for parsed formats.)
  assert.equal(final.output[0].content[0].text, fakeOpenAI.TEXT);
  assert.equal(deltas, fakeOpenAI.TEXT);
});

test('function tools: the call, its output, the answer', async () => {
  for (const [model, upstream, args] of [['gpt-like', openaiUpstream, fakeOpenAI.TOOL_ARGUMENTS],
    ['claude', anthropicUpstream, fakeAnthropic.TOOL_INPUT]]) {
    const input = [{ role: 'user', content: 'Weather in Paris?' }];
    const first = await client.responses.create({ model, input, tools: TOOLS });
    const call = first.output.find((item) => item.type === 'function_call');
    assert.ok(call, `${model}: ${JSON.stringify(first.output)}`);
    assert.equal(call.name, 'get_weather');
    assert.deepEqual(JSON.parse(call.arguments), args, model);

    // Streamed, the same call assembles from its argument deltas.
    const streamed = await client.responses.stream({ model, input, tools: TOOLS }).finalResponse();
    const streamedCall = streamed.output.find((item) => item.type === 'function_call');
    assert.equal(streamedCall.call_id, call.call_id, model);
    assert.deepEqual(JSON.parse(streamedCall.arguments), args, model);

    upstream.received.length = 0;
    const answer = await client.responses.create({
      model, tools: TOOLS,
      input: [...input, call, { type: 'function_call_output', call_id: call.call_id, output: '18°C and sunny' }],
    });
    assert.ok(answer.output_text.length > 0, model);
    const sent = upstream.received[0].body.messages;
    if (model === 'gpt-like') {
      assert.equal(sent.at(-2).tool_calls[0].id, call.call_id);
      assert.deepEqual(sent.at(-1), { role: 'tool', tool_call_id: call.call_id, content: '18°C and sunny' });
    } else {
      assert.deepEqual(sent.at(-1).content, [{ type: 'tool_result', tool_use_id: call.call_id, content: '18°C and sunny' }]);
    }
  }
});

test('what only a stateful Responses API can do is a 400 naming the parameter', async () => {
  for (const [extra, param] of [[{ store: true }, 'store'], [{ previous_response_id: 'resp_abc' }, 'previous_response_id'],
    [{ tools: [{ type: 'web_search_preview' }] }, 'tools[0].type'], [{ background: true }, 'background']]) {
    await assert.rejects(client.responses.create({ model: 'gpt-like', input: 'hi', ...extra }), (err) => {
      assert.ok(err instanceof OpenAI.BadRequestError, `got ${err?.constructor?.name}: ${err?.message}`);
      assert.equal(err.param, param);
      return true;
    });
  }
});
