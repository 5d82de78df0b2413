// The canary scan of the node tests can fail (canary.mjs): a model named
// like a secret reaches the answer, the access log and /metrics, and in a
// canary run stop() then fails naming where. Without SLUICE_CANARY nothing is
// scanned and stop() succeeds.
//
//   SLUICE_CANARY=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n') node --test canary.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startSluice } from './daemon.mjs';
import { CANARY, testSecret } from './canary.mjs';

test('a canary in an answer, the log or /metrics fails the daemon\'s stop()', async () => {
  const model = testSecret('model-name');
  const sluice = await startSluice(`
server:
  listen: "127.0.0.1:0"
providers:
  - { name: mock, type: mock }
models:
  - { name: ${model}, deployments: [{ provider: mock, model: ${model} }] }
logging:
  level: info
`);
  const client = new OpenAI({ baseURL: sluice.baseURL, apiKey: testSecret('client'), maxRetries: 0, timeout: 10_000 });
  const answer = await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }] });
  assert.ok(answer.choices.length > 0);
  if (!CANARY) {
    await sluice.stop();
    return;
  }
  await assert.rejects(sluice.stop(), (err) => {
    for (const place of ["the daemon's stdout or stderr", 'the body of the response to GET /metrics',
                         'the body of the response to POST /v1/chat/completions']) {
      assert.ok(err.message.includes(`a canary secret appeared in ${place}: `), `${place}:\n${err.message}`);
    }
    assert.ok(!err.message.includes(CANARY), 'the finding masks the canary');
    return true;
  });
});
