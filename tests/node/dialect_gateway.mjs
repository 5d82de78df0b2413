// The gateway the dialect tests (anthropic_sdk, responses) run against: a
// fake OpenAI-compatible chat server (model "gpt-like", which speaks neither
// the Messages nor the Responses API), a fake Anthropic API (model "claude")
// and the mock ("mock-model"), with `auth` as the config's auth section.
import { startSluice } from './daemon.mjs';
import * as fakeAnthropic from './fake_anthropic.mjs';
import * as fakeOpenAI from './fake_openai.mjs';

// Resolves to { sluice, anthropicUpstream, openaiUpstream, stop() }.
export async function startDialectGateway({ auth = '' } = {}) {
  const anthropicUpstream = await fakeAnthropic.startFakeAnthropic();
  const openaiUpstream = await fakeOpenAI.startFakeOpenAI();
  const sluice = await startSluice(`
server:
  listen: "127.0.0.1:0"
  shutdown_grace: 2s
${auth}
providers:
  - name: chat-only
    type: openai
    base_url: http://127.0.0.1:${openaiUpstream.port}/v1
    responses_api: translated          # an OpenAI-compatible server without /v1/responses
  - name: claude
    type: anthropic
    base_url: http://127.0.0.1:${anthropicUpstream.port}
    api_key: ${fakeAnthropic.API_KEY}
    anthropic_version: "2023-01-01"
  - name: mock
    type: mock
models:
  - name: gpt-like
    deployments:
      - { provider: chat-only, model: gpt-upstream }
  - name: claude
    deployments:
      - { provider: claude, model: ${fakeAnthropic.UPSTREAM_MODEL} }
  - name: mock-model
    deployments:
      - { provider: mock, model: mock-model }
logging:
  level: info
`);
  async function stop() {
    try {
      await sluice.stop();
    } finally {
      await anthropicUpstream.close();
      await openaiUpstream.close();
    }
  }
  return { sluice, anthropicUpstream, openaiUpstream, stop };
}
