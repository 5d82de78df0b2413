// The overflow queue as the official `openai` client sees it: requests over
// a provider's RPM wait instead of failing (no RateLimitError, the SDK's own
// retries never needed), and a stream that waits gets `: queued` SSE
// comments first, which the SDK skips, then its answer as usual.
//
//   SLUICE_BIN=/path/to/sluice node --test queue.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startSluice } from './daemon.mjs';
import { testSecret } from './canary.mjs';

// 60 RPM: a full bucket of 60, then one a second.
const CONFIG = `
server:
  listen: "127.0.0.1:0"
  shutdown_grace: 2s
providers:
  - name: mock
    type: mock
    rpm: 60
models:
  - name: gpt-4o-mini
    deployments:
      - { provider: mock, model: gpt-4o-mini }
queue:
  max_wait: 20s
  keepalive_interval: 200ms
logging:
  level: info
`;

let sluice;
let client;

before(async () => {
  sluice = await startSluice(CONFIG);
  client = new OpenAI({ baseURL: sluice.baseURL, apiKey: testSecret('client'), maxRetries: 0, timeout: 30_000 });
});

after(async () => {
  await sluice?.stop();
});

const ask = () => client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });

test('a burst over the RPM waits instead of failing, and the waiting stream is kept alive', async () => {
  const burst = await Promise.all(Array.from({ length: 60 }, () => ask().withResponse()));
  assert.equal(burst.length, 60);
  // The bucket is empty now: the stream waits about a second, with keep-alives.
  const { data: stream, response } = await client.chat.completions
    .create({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'hi' }] })
    .withResponse();
  assert.equal(response.status, 200);
  let text = '';
  for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
  assert.ok(text.length > 0, 'the stream carried the answer after its keep-alives');
  const { response: late } = await ask().withResponse();
  assert.ok(Number(late.headers.get('x-sluice-queued-ms')) > 0, 'the next one waited too, and says so');
});
