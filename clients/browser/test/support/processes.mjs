// Starting and stopping the real `keygate serve` for the end-to-end tests, the way the Rust
// tests do (crates/cli/tests/support/mod.rs): a clean environment (no MOOSE_* from the
// developer's shell), `--listen 127.0.0.1:0`, and the address read from its stdout.

import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const REPO = fileURLToPath(new URL('../../../../', import.meta.url));

/** `KEYGATE_BIN`, else the debug binary in `CARGO_TARGET_DIR` (or the workspace's target/). */
export function keygateBinary() {
  if (process.env.KEYGATE_BIN) return process.env.KEYGATE_BIN;
  const target = process.env.CARGO_TARGET_DIR
    ? path.resolve(REPO, process.env.CARGO_TARGET_DIR)
    : path.join(REPO, 'target');
  return path.join(target, 'debug', 'keygate');
}

/** The environment without keygate's variables. */
function cleanEnv(extra = {}) {
  const env = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('MOOSE_')) env[name] = value;
  }
  return { ...env, ...extra };
}

/** Runs a `keygate` subcommand and returns its stdout. */
export function keygate(bin, args, options = {}) {
  return execFileSync(bin, args, { env: cleanEnv(), encoding: 'utf8', timeout: 30_000, ...options });
}

const running = new Set();
// Whatever happens to the test process, no keygate outlives it.
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** `keygate serve --config CONFIG --listen 127.0.0.1:0 --upstream UPSTREAM`, started and ready. */
export async function serve(bin, { config, upstream, env = {} }) {
  const child = spawn(bin, ['serve', '--config', config, '--listen', '127.0.0.1:0', '--upstream', upstream], {
    env: cleanEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let logs = '';
  child.stderr.setEncoding('utf8').on('data', (chunk) => {
    logs += chunk;
  });
  const url = await new Promise((resolve, reject) => {
    let stdout = '';
    const timer = setTimeout(() => reject(new Error(`keygate did not start within 30 s:\n${logs}`)), 30_000);
    child.stdout.setEncoding('utf8').on('data', (chunk) => {
      stdout += chunk;
      const match = stdout.match(/keygate is listening on (http:\/\/127\.0\.0\.1:\d+)/);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`keygate exited with ${code}:\n${logs}`));
    });
  });
  return {
    url,
    logs: () => logs,
    signal: (name) => child.kill(name),
    async stop() {
      running.delete(child);
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Whether `file` exists and is a file we can run. */
export function installed(file) {
  return existsSync(file);
}
