#!/usr/bin/env node
// Streaming time-to-first-byte probe for bench/run.sh.
//
// Sends N sequential streaming chat-completion requests over ONE keep-alive
// connection (after W unrecorded warm-up requests) and measures per request:
//   headers_us  request written -> response head parsed
//   ttfb_us     request written -> first response body byte (the first SSE bytes)
//   total_us    request written -> end of the stream
// "request written" is taken immediately before the body is handed to the socket,
// so the probe's own request-building cost is not counted. Prints one line
// "PROBEJSON {...}" with p50/p90/p99/min/max/mean of each, events per stream and
// error counts.
//
//   node bench/stream-ttfb.mjs --url http://127.0.0.1:PORT/v1/chat/completions
//        [--n 200] [--warmup 10] [--model gpt-4o-mini] [--label name] [--timeout-ms 15000]
// Loopback URLs only. Bounded: n + warmup requests, each with a timeout.
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const opt = { url: '', n: 200, warmup: 10, model: '', label: '', timeoutMs: 15000 };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i += 2) {
  const [k, v] = [argv[i], argv[i + 1]];
  if (v === undefined) { console.error(`missing value for ${k}`); process.exit(2); }
  switch (k) {
    case '--url': opt.url = v; break;
    case '--n': opt.n = Number(v); break;
    case '--warmup': opt.warmup = Number(v); break;
    case '--model': opt.model = v; break;
    case '--label': opt.label = v; break;
    case '--timeout-ms': opt.timeoutMs = Number(v); break;
    default: console.error(`unknown argument ${k}`); process.exit(2);
  }
}
if (!(opt.n >= 1 && opt.n <= 100000) || !(opt.warmup >= 0 && opt.warmup <= 10000)) {
  console.error('--n must be 1..100000 and --warmup 0..10000'); process.exit(2);
}
const url = new URL(opt.url);
if (url.protocol !== 'http:' || !/^(127\.\d+\.\d+\.\d+|localhost|\[::1\])$/.test(url.hostname)) {
  console.error(`refusing a non-loopback URL: ${opt.url}`); process.exit(2);
}

const here = dirname(fileURLToPath(import.meta.url));
const payload = JSON.parse(readFileSync(join(here, 'payloads', 'chat-request.json'), 'utf8'));
if (opt.model) payload.model = opt.model;
payload.stream = true;
const body = Buffer.from(JSON.stringify(payload));
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const headers = {
  'content-type': 'application/json',
  accept: 'text/event-stream',
  authorization: 'Bearer sk-bench-0000000000000000000000000000000000000000',
  'user-agent': 'sluice-bench/stream-ttfb',
  'content-length': body.length,
};

function once() {
  return new Promise((resolve) => {
    let t0 = 0n, tHead = 0n, tFirst = 0n, bytes = 0, events = 0, tail = '', sawDone = false, settled = false;
    const finish = (err, status) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const tEnd = process.hrtime.bigint();
      const us = (t) => (t ? Number(t - t0) / 1e3 : NaN);
      resolve({ err, status, head: us(tHead), ttfb: us(tFirst), total: us(tEnd), bytes, events, sawDone });
    };
    const req = http.request({
      host: url.hostname.replace(/^\[|\]$/g, ''), port: url.port || 80, path: url.pathname + url.search,
      method: 'POST', headers, agent,
    }, (res) => {
      tHead = process.hrtime.bigint();
      res.on('data', (chunk) => {
        if (!tFirst) tFirst = process.hrtime.bigint();
        bytes += chunk.length;
        // count "data:" lines across chunk boundaries
        const text = tail + chunk.toString('latin1');
        const lines = text.split('\n');
        tail = lines.pop();
        for (const line of lines) {
          if (line.startsWith('data:')) {
            events++;
            if (line.trim() === 'data: [DONE]') sawDone = true;
          }
        }
      });
      res.on('end', () => finish(res.statusCode === 200 ? null : `status ${res.statusCode}`, res.statusCode));
      res.on('error', (e) => finish(String(e.message || e), res.statusCode));
    });
    const timer = setTimeout(() => req.destroy(new Error('timeout')), opt.timeoutMs);
    req.on('error', (e) => finish(String(e.message || e), 0));
    t0 = process.hrtime.bigint();
    req.end(body);
  });
}

const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
function stats(values) {
  if (!values.length) return null;
  const s = [...values].sort((a, b) => a - b);
  const r = (x) => Math.round(x);
  return { p50: r(pct(s, 50)), p90: r(pct(s, 90)), p99: r(pct(s, 99)), min: r(s[0]), max: r(s[s.length - 1]),
           mean: r(s.reduce((a, b) => a + b, 0) / s.length) };
}

for (let i = 0; i < opt.warmup; i++) await once();
const ok = [];
const errors = {};
for (let i = 0; i < opt.n; i++) {
  const r = await once();
  if (r.err || !r.sawDone) {
    const key = r.err || 'no [DONE]';
    errors[key] = (errors[key] || 0) + 1;
    continue;
  }
  ok.push(r);
}
agent.destroy();
console.log('PROBEJSON ' + JSON.stringify({
  label: opt.label, url: opt.url, n: opt.n, ok: ok.length, errors,
  headers_us: stats(ok.map((r) => r.head)), ttfb_us: stats(ok.map((r) => r.ttfb)), total_us: stats(ok.map((r) => r.total)),
  events_p50: ok.length ? pct(ok.map((r) => r.events).sort((a, b) => a - b), 50) : null,
  bytes_p50: ok.length ? pct(ok.map((r) => r.bytes).sort((a, b) => a - b), 50) : null,
}));
