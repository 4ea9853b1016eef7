import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Test } from 'tap';
import type { Config } from '../../shared/config.js';
import { eventually } from './harness.js';

const apiChild = fileURLToPath(new URL('./api-child.ts', import.meta.url));
const tsx = import.meta.resolve('tsx');

/**
 * The API in an operating-system process of its own (test/support/api-child.ts) with `config` as its whole
 * environment, stopped at the test's end (SIGTERM, SIGKILL after 5 s): its base URL once it listens.
 */
export async function startApiProcess(t: Test, config: Config): Promise<string> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp' };
  for (const [k, v] of Object.entries(config)) if (v !== undefined) env[k] = String(v);
  const child = spawn(process.execPath, ['--import', tsx, apiChild], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  t.teardown(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const port = await eventually(
    () => {
      if (child.exitCode !== null) throw new Error(`API exited: ${out}`);
      return /listening (\d+)/.exec(out)?.[1];
    },
    { timeoutMs: 120_000 },
  );
  return `http://127.0.0.1:${port}`;
}

/**
 * Polls `read` until it is true; returns when (ms after the start) the first read that saw the change was
 * sent: a read sent that long after the write may still be stale, none after it was (Infinity after 2 s).
 */
export async function timeUntil(read: () => Promise<boolean>): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < 2_000) {
    const sent = performance.now() - started;
    if (await read()) return sent;
    await new Promise((r) => setTimeout(r, 1));
  }
  return Infinity;
}
