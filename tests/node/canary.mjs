// Canary secrets for the node tests, as tests/support/canary.hpp does for the
// C++ ones (docs/security.md, "Secrets"). With SLUICE_CANARY set (a random
// token, at least 8 letters and digits), every secret from testSecret()
// contains CANARY<token>; every response a client gets from a started daemon
// (through the global fetch, which both SDKs use), the daemon's output and
// its /metrics at stop are scanned, and stop() fails with what was found.
// Without SLUICE_CANARY, testSecret() gives fixed values and nothing is scanned.
import { createHash } from 'node:crypto';

const token = process.env.SLUICE_CANARY ?? '';
if (token && !/^[A-Za-z0-9]{8,}$/.test(token)) {
  throw new Error('SLUICE_CANARY must be at least 8 letters and digits (a random token)');
}
export const CANARY = token ? `CANARY${token}` : '';

// The secret a test uses for `role` ("gw-team-a", "provider-claude").
export function testSecret(role) {
  if (CANARY) return `sk-${CANARY}-${role}`;
  return `sk-test-${role}-${createHash('sha256').update(role).digest('hex').slice(0, 16)}`;
}

const findings = [];
const origins = new Set();  // the daemons' http://127.0.0.1:PORT
const pending = new Set();  // response bodies still being read

// Records each occurrence of the canary in `text`, output that `where` names.
export function scanForCanary(where, text) {
  if (!CANARY || !text) return;
  for (let at = text.indexOf(CANARY); at !== -1; at = text.indexOf(CANARY, at + 1)) {
    const around = text.slice(Math.max(0, at - 60), at + CANARY.length + 60).replaceAll(CANARY, '<CANARY>');
    findings.push(`a canary secret appeared in ${where}: ${JSON.stringify(around)}`);
  }
}

if (CANARY) {
  const originalFetch = globalThis.fetch;
  globalThis.fetch = async (input, init) => {
    const response = await originalFetch(input, init);
    const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
    if (!origins.has(url.origin)) return response;
    const what = `${init?.method ?? (input instanceof Request ? input.method : 'GET')} ${url.pathname}`;
    for (const [name, value] of response.headers) scanForCanary(`the ${name} header of the response to ${what}`, value);
    // A copy of the body, read alongside the client (a stream whole, when it ends).
    const body = response.clone().text()
      .then((text) => scanForCanary(`the body of the response to ${what}`, text), () => {})
      .finally(() => pending.delete(body));
    pending.add(body);
    return response;
  };
}

export function watchOrigin(origin) { if (CANARY) origins.add(origin); }

// Scrapes /metrics (before the daemon stops), waits for the bodies being
// read (bounded), and returns the findings so far, taking them.
export async function scrapeMetrics(origin) {
  if (!CANARY) return;
  try {
    const res = await fetch(`${origin}/metrics`, { signal: AbortSignal.timeout(3_000) });
    await res.text();
  } catch { /* a daemon without metrics, or already stopping */ }
}

export async function takeFindings() {
  if (!CANARY) return [];
  await Promise.race([Promise.allSettled([...pending]), new Promise((resolve) => setTimeout(resolve, 3_000).unref())]);
  return findings.splice(0);
}
