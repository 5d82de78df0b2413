// Gateway keys as the official clients see them: the `openai` and
// `@anthropic-ai/sdk` npm clients get AuthenticationError for a missing or
// wrong key (whichever header they send it in), PermissionDeniedError for a
// model off the key's allow-list, RateLimitError with the key's own
// Retry-After once its RPM is spent; and with the right key the request goes
// through as that key's tenant. No key reaches the daemon's log.
//
//   SLUICE_BIN=/path/to/sluice node --test auth.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { startSluice } from './daemon.mjs';
import { testSecret } from './canary.mjs';

const KEY_A = testSecret('gw-node-team-a');
const KEY_B = testSecret('gw-node-team-b');

const CONFIG = `
server:
  listen: "127.0.0.1:0"
  shutdown_grace: 2s
auth:
  keys:
    - key: ${KEY_A}
      tenant: team-a
      models: [gpt-4o-mini]
      rpm: 3
    - key: ${KEY_B}
      tenant: team-b
providers:
  - name: mock
    type: mock
models:
  - name: gpt-4o-mini
    deployments:
      - { provider: mock, model: gpt-4o-mini }
  - name: gpt-4o
    deployments:
      - { provider: mock, model: gpt-4o }
logging:
  level: info
`;

let sluice;
const openai = (apiKey) => new OpenAI({ baseURL: sluice.baseURL, apiKey, maxRetries: 0, timeout: 10_000 });
const ask = (client, model = 'gpt-4o-mini') =>
  client.chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }] });

before(async () => {
  sluice = await startSluice(CONFIG);
});

after(async () => {
  await sluice?.stop();
  const log = sluice?.logLines.join('\n') ?? '';
  assert.ok(!log.includes(KEY_A) && !log.includes(KEY_B), 'a gateway key reached the log');
});

test('openai: a wrong key is AuthenticationError, the right key is served', async () => {
  await assert.rejects(ask(openai(testSecret('not-a-key-of-this-gateway'))), (err) => {
    assert.ok(err instanceof OpenAI.AuthenticationError, `got ${err?.constructor?.name}: ${err?.message}`);
    assert.equal(err.status, 401);
    assert.equal(err.code, 'invalid_api_key');
    return true;
  });
  const answer = await ask(openai(KEY_B));
  assert.ok(answer.choices[0].message.content.length > 0);
});

test('openai: the key sees only its models, and a model off its list is PermissionDeniedError', async () => {
  const ids = [];
  for await (const model of openai(KEY_A).models.list()) ids.push(model.id);
  assert.deepEqual(ids, ['gpt-4o-mini']);
  await assert.rejects(ask(openai(KEY_A), 'gpt-4o'), (err) => {
    assert.ok(err instanceof OpenAI.PermissionDeniedError, `got ${err?.constructor?.name}: ${err?.message}`);
    assert.equal(err.code, 'model_not_allowed');
    return true;
  });
});

test("openai: past the key's own RPM, RateLimitError with Retry-After", async () => {
  const client = openai(KEY_A);
  let limited;
  for (let i = 0; i < 5 && !limited; ++i) {
    try {
      await ask(client);
    } catch (err) {
      limited = err;
    }
  }
  assert.ok(limited instanceof OpenAI.RateLimitError, `got ${limited?.constructor?.name}: ${limited?.message}`);
  const retryAfter = Number(limited.headers.get('retry-after'));
  assert.ok(retryAfter >= 1 && retryAfter <= 20, `retry-after ${retryAfter}`);
  await ask(openai(KEY_B));  // another key's bucket is its own
});

test('anthropic: a wrong key is AuthenticationError, as x-api-key and as a Bearer token', async () => {
  for (const options of [{ apiKey: testSecret('wrong-key') }, { authToken: testSecret('wrong-key') }]) {
    const client = new Anthropic({ baseURL: sluice.baseURL.replace(/\/v1$/, ''), maxRetries: 0, timeout: 10_000, ...options });
    await assert.rejects(client.models.list(), (err) => {
      assert.ok(err instanceof Anthropic.AuthenticationError, `got ${err?.constructor?.name}: ${err?.message}`);
      assert.equal(err.status, 401);
      return true;
    });
  }
});

test('anthropic: the right key in either header is accepted', async () => {
  for (const options of [{ apiKey: KEY_B }, { authToken: KEY_B }]) {
    const client = new Anthropic({ baseURL: sluice.baseURL.replace(/\/v1$/, ''), maxRetries: 0, timeout: 10_000, ...options });
    const response = await client.models.list().asResponse();
    assert.equal(response.status, 200);
  }
});
