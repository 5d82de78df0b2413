// Sluice driven by the official `openai` npm client, the way applications use it:
// only the base URL changes. Starts the built daemon on 127.0.0.1 (port 0, the
// port is read from its log line, see daemon.mjs) with the in-process mock
// provider, then exercises chat (plain and streamed),
// embeddings (base64 and float), models and the error mapping.
//
//   SLUICE_BIN=/path/to/sluice node --test        (default: ../../build/src/sluice)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startSluice } from './daemon.mjs';
import { testSecret } from './canary.mjs';

const EMBED_DIMS = 256;

const CONFIG = `
server:
  listen: "127.0.0.1:0"
  shutdown_grace: 2s
providers:
  - name: mock
    type: mock
    mock: { embedding_dims: ${EMBED_DIMS} }
models:
  - name: gpt-4o-mini
    deployments:
      - { provider: mock, model: gpt-4o-mini }
  - name: text-embedding-3-small
    deployments:
      - { provider: mock, model: text-embedding-3-small }
logging:
  level: info
`;

let sluice;        // { baseURL, logLines, stop }
let baseURL;
let client;

before(async () => {
  sluice = await startSluice(CONFIG);
  baseURL = sluice.baseURL;
  client = new OpenAI({ baseURL, apiKey: testSecret('client'), maxRetries: 0, timeout: 10_000 });
});

after(async () => {
  await sluice?.stop();
});

const PROMPT = [
  { role: 'system', content: 'You are a terse assistant.' },
  { role: 'user', content: 'Name three rivers in Europe.' },
];

test('chat.completions.create (non-stream) returns content and consistent usage', async () => {
  const res = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: PROMPT });
  assert.equal(res.object, 'chat.completion');
  assert.equal(res.model, 'gpt-4o-mini');
  assert.equal(res.choices.length, 1);
  const msg = res.choices[0].message;
  assert.equal(msg.role, 'assistant');
  assert.equal(typeof msg.content, 'string');
  assert.ok(msg.content.length > 0, 'content is non-empty');
  assert.equal(res.choices[0].finish_reason, 'stop');
  const u = res.usage;
  assert.ok(u.prompt_tokens > 0 && u.completion_tokens > 0, JSON.stringify(u));
  assert.equal(u.total_tokens, u.prompt_tokens + u.completion_tokens);
});

test('chat.completions.create (stream) yields the same text as non-stream, plus a usage chunk', async () => {
  const plain = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: PROMPT });
  const stream = await client.chat.completions.create({
    model: 'gpt-4o-mini',
    messages: PROMPT,
    stream: true,
    stream_options: { include_usage: true },
  });
  let text = '';
  let usage = null;
  let chunks = 0;
  let finish = null;
  for await (const chunk of stream) {
    chunks++;
    assert.equal(chunk.object, 'chat.completion.chunk');
    for (const choice of chunk.choices) {
      if (choice.delta?.content) text += choice.delta.content;
      if (choice.finish_reason) finish = choice.finish_reason;
    }
    if (chunk.usage) {
      assert.equal(chunk.choices.length, 0, 'the usage chunk has no choices');
      usage = chunk.usage;
    }
  }
  assert.ok(chunks >= 3, `got ${chunks} chunks`);
  assert.equal(finish, 'stop');
  assert.equal(text, plain.choices[0].message.content);
  assert.ok(usage, 'a usage chunk arrived');
  assert.equal(usage.total_tokens, usage.prompt_tokens + usage.completion_tokens);
  assert.deepEqual(usage, plain.usage);
});

function assertUnitVector(embedding) {
  assert.ok(Array.isArray(embedding), `embedding is an array (got ${typeof embedding})`);
  assert.equal(embedding.length, EMBED_DIMS);
  assert.ok(embedding.every((x) => typeof x === 'number' && Number.isFinite(x)), 'all finite numbers');
  const norm = Math.sqrt(embedding.reduce((s, x) => s + x * x, 0));
  assert.ok(Math.abs(norm - 1) < 1e-3, `norm ${norm} ~ 1`);
}

test('embeddings.create with the SDK default (base64 on the wire, decoded by the SDK)', async () => {
  const res = await client.embeddings.create({ model: 'text-embedding-3-small', input: 'hello world' });
  assert.equal(res.object, 'list');
  assert.equal(res.data.length, 1);
  assert.equal(res.data[0].index, 0);
  assertUnitVector(res.data[0].embedding);
  assert.ok(res.usage.prompt_tokens > 0);
});

test("embeddings.create with encoding_format 'float' matches the base64 answer", async () => {
  const asFloat = await client.embeddings.create({
    model: 'text-embedding-3-small', input: ['hello world', 'second input'], encoding_format: 'float',
  });
  assert.equal(asFloat.data.length, 2);
  asFloat.data.forEach((d, i) => { assert.equal(d.index, i); assertUnitVector(d.embedding); });
  const asDefault = await client.embeddings.create({ model: 'text-embedding-3-small', input: 'hello world' });
  const a = asFloat.data[0].embedding;
  const b = asDefault.data[0].embedding;
  // float32 on the base64 path; decimal text on the float path: equal to float32 precision.
  assert.ok(a.every((x, i) => Math.abs(x - b[i]) < 1e-6), 'same vector either way');
});

test('models.list contains the configured models', async () => {
  const ids = [];
  for await (const m of client.models.list()) ids.push(m.id);
  assert.ok(ids.includes('gpt-4o-mini'), ids.join(','));
  assert.ok(ids.includes('text-embedding-3-small'), ids.join(','));
});

test('a malformed request rejects with BadRequestError carrying the server message', async () => {
  await assert.rejects(
    client.chat.completions.create({ model: 'gpt-4o-mini', messages: 'not-an-array' }),
    (err) => {
      assert.ok(err instanceof OpenAI.BadRequestError, `got ${err?.constructor?.name}: ${err?.message}`);
      assert.equal(err.status, 400);
      assert.equal(err.type, 'invalid_request_error');
      assert.equal(err.param, 'messages');
      assert.equal(typeof err.error?.message, 'string');
      assert.ok(err.error.message.length > 0);
      assert.ok(err.message.includes(err.error.message), err.message);
      assert.ok(err.requestID, 'x-request-id surfaced as err.requestID');
      return true;
    });
});

test('an unknown model rejects with NotFoundError', async () => {
  await assert.rejects(
    client.chat.completions.create({ model: 'no-such-model', messages: PROMPT }),
    (err) => {
      assert.ok(err instanceof OpenAI.NotFoundError, `got ${err?.constructor?.name}: ${err?.message}`);
      assert.equal(err.status, 404);
      assert.ok(err.message.includes('no-such-model'), err.message);
      return true;
    });
});

test('raw fetch: every response carries x-request-id', async () => {
  const ok = await fetch(`${baseURL}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: PROMPT }),
  });
  assert.equal(ok.status, 200);
  assert.match(ok.headers.get('x-request-id') ?? '', /^[0-9A-Za-z_-]{8,}$/);
  await ok.arrayBuffer();

  const bad = await fetch(`${baseURL}/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: '{not json',
  });
  assert.equal(bad.status, 400);
  assert.ok(bad.headers.get('x-request-id'));
  const body = await bad.json();
  assert.equal(typeof body.error?.message, 'string');

  const models = await fetch(`${baseURL}/models`);
  assert.equal(models.status, 200);
  assert.ok(models.headers.get('x-request-id'));
  await models.arrayBuffer();
});
