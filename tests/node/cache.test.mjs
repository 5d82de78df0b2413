// The answer cache seen by the official `openai` npm client: a cached
// answer replayed as a stream (stream_options.include_usage asked) parses
// chunk by chunk into the same text, finish reason and usage; a stream that
// completed is served whole to the next plain request. The daemon runs the
// mock provider with the exact tier on.
//
//   SLUICE_BIN=/path/to/sluice node --test cache.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startSluice } from './daemon.mjs';
import { testSecret } from './canary.mjs';

const CONFIG = `
server:
  listen: "127.0.0.1:0"
  shutdown_grace: 2s
providers:
  - name: mock
    type: mock
models:
  - name: gpt-4o-mini
    deployments:
      - { provider: mock, model: gpt-4o-mini }
cache:
  enabled: true
logging:
  level: info
`;

let sluice;
let client;

before(async () => {
  sluice = await startSluice(CONFIG);
  client = new OpenAI({ baseURL: sluice.baseURL, apiKey: testSecret('client'), maxRetries: 0, timeout: 10_000 });
});

after(async () => {
  await sluice?.stop();
});

async function readStream(stream) {
  let text = '';
  let usage = null;
  let finish = null;
  let chunks = 0;
  const ids = new Set();
  for await (const chunk of stream) {
    chunks += 1;
    ids.add(chunk.id);
    assert.equal(chunk.object, 'chat.completion.chunk');
    if (chunk.usage) usage = chunk.usage;
    for (const choice of chunk.choices) {
      text += choice.delta?.content ?? '';
      if (choice.finish_reason) finish = choice.finish_reason;
    }
  }
  return { text, usage, finish, chunks, ids };
}

test('a cached answer replays as a stream the client parses, usage included', async () => {
  const request = {
    model: 'gpt-4o-mini',
    messages: [{ role: 'user', content: 'Name three rivers in Europe and say where each one reaches the sea.' }],
  };
  const { data: first, response: missed } = await client.chat.completions.create(request).withResponse();
  assert.equal(missed.headers.get('x-sluice-cache'), 'miss');

  const { data: stream, response: hit } = await client.chat.completions
    .create({ ...request, stream: true, stream_options: { include_usage: true } })
    .withResponse();
  assert.equal(hit.headers.get('x-sluice-cache'), 'hit-exact');
  assert.match(hit.headers.get('x-sluice-cache-key'), /^[0-9a-f]{16}$/);
  const replay = await readStream(stream);
  assert.equal(replay.text, first.choices[0].message.content);
  assert.equal(replay.finish, first.choices[0].finish_reason);
  assert.deepEqual(replay.usage, first.usage);
  assert.ok(replay.chunks >= 3, `a few words per chunk, got ${replay.chunks} chunks`);
  assert.equal(replay.ids.size, 1, 'one id across the chunks');
  assert.ok(![...replay.ids].includes(first.id), 'a fresh id');
});

test('a completed stream is served whole to the next plain request', async () => {
  const request = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Stream me a haiku about caches.' }] };
  const { data: stream, response: missed } = await client.chat.completions
    .create({ ...request, stream: true })
    .withResponse();
  assert.equal(missed.headers.get('x-sluice-cache'), 'miss');
  const streamed = await readStream(stream);
  assert.equal(streamed.usage, null, 'no usage chunk unless asked');

  const { data: whole, response: hit } = await client.chat.completions.create(request).withResponse();
  assert.equal(hit.headers.get('x-sluice-cache'), 'hit-exact');
  assert.equal(whole.object, 'chat.completion');
  assert.equal(whole.model, 'gpt-4o-mini');
  assert.equal(whole.choices[0].message.content, streamed.text);
  assert.equal(whole.choices[0].finish_reason, streamed.finish);
});

test('Cache-Control: no-store is neither served from nor written to the cache', async () => {
  const request = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Something private.' }] };
  const options = { headers: { 'Cache-Control': 'no-store' } };
  const { response: first } = await client.chat.completions.create(request, options).withResponse();
  assert.equal(first.headers.get('x-sluice-cache'), 'bypass');
  const { response: second } = await client.chat.completions.create(request).withResponse();
  assert.equal(second.headers.get('x-sluice-cache'), 'miss');
});
