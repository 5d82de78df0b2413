// Starting and stopping the built sluice daemon for the node tests: a temp
// config file, the port read from the daemon's {"event":"listening",...,"port":N}
// log line, SIGTERM at the end with the exit status checked.
//
//   SLUICE_BIN=/path/to/sluice node --test        (default: ../../build/src/sluice)
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { scanForCanary, scrapeMetrics, takeFindings, watchOrigin } from './canary.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
export const SLUICE_BIN = path.resolve(here, process.env.SLUICE_BIN || '../../build/src/sluice');
const START_TIMEOUT_MS = 10_000;
const EXIT_TIMEOUT_MS = 5_000;

function waitForPort(child, logLines) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`sluice did not log its port within ${START_TIMEOUT_MS} ms; output:\n${logLines.join('\n')}`)),
      START_TIMEOUT_MS);
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      logLines.push(line);
      let ev;
      try { ev = JSON.parse(line); } catch { return; }
      if (ev.event === 'listening' && Number.isInteger(ev.port) && ev.port > 0) {
        clearTimeout(timer);
        resolve(ev.port);
      }
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`sluice exited early (code ${code}, signal ${signal}); output:\n${logLines.join('\n')}`));
    });
    child.on('error', (err) => { clearTimeout(timer); reject(err); });
  });
}

// Starts sluice on `configText` (which should listen on 127.0.0.1:0).
// Returns { baseURL, logLines, stop }; stop() sends SIGTERM, asserts a clean
// exit within EXIT_TIMEOUT_MS and removes the temp directory. In a canary run
// (canary.mjs) stop() also fails when a canary secret reached the daemon's
// output, its /metrics or a response a client read from it.
export async function startSluice(configText) {
  assert.ok(existsSync(SLUICE_BIN), `sluice binary not found at ${SLUICE_BIN} (set SLUICE_BIN)`);
  const workdir = mkdtempSync(path.join(tmpdir(), 'sluice-node-'));
  const configPath = path.join(workdir, 'sluice.yaml');
  writeFileSync(configPath, configText);
  const logLines = [];
  const daemon = spawn(SLUICE_BIN, ['--config', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  daemon.stderr.on('data', (d) => logLines.push(`[stderr] ${d.toString().trimEnd()}`));
  const exited = new Promise((resolve) => daemon.on('exit', (code, signal) => resolve({ code, signal })));

  let origin = '';
  async function stop() {
    try {
      if (daemon.exitCode !== null || daemon.signalCode !== null) return;
      if (origin) await scrapeMetrics(origin);
      daemon.kill('SIGTERM');
      let timer;
      const result = await Promise.race([
        exited,
        new Promise((resolve) => { timer = setTimeout(() => resolve(null), EXIT_TIMEOUT_MS); }),
      ]);
      clearTimeout(timer);
      if (result === null) {
        daemon.kill('SIGKILL');
        assert.fail(`sluice did not exit within ${EXIT_TIMEOUT_MS} ms of SIGTERM`);
      }
      assert.deepEqual(result, { code: 0, signal: null }, `sluice exit after SIGTERM; output:\n${logLines.join('\n')}`);
      scanForCanary("the daemon's stdout or stderr", logLines.join('\n'));
      const findings = await takeFindings();
      assert.equal(findings.length, 0, findings.join('\n'));
    } finally {
      rmSync(workdir, { recursive: true, force: true });
    }
  }

  try {
    const port = await waitForPort(daemon, logLines);
    origin = `http://127.0.0.1:${port}`;
    watchOrigin(origin);
    return { baseURL: `http://127.0.0.1:${port}/v1`, logLines, stop };
  } catch (err) {
    if (daemon.exitCode === null && daemon.signalCode === null) daemon.kill('SIGKILL');
    rmSync(workdir, { recursive: true, force: true });
    throw err;
  }
}
