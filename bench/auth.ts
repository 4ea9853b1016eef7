/**
 * Identity: what signing in and being signed in cost.
 *   argon2id hash / verify time    single operations at ARGON2_PARAMS, in this process
 *   POST /api/v1/auth/login        logins/s (argon2 verify + session row + refresh token)
 *   GET /api/v1/me  vs hello-world JWT RS256 verify + revocation GET in Redis + one user row
 *                                  (aim: ≥ 50% of hello-world's req/s)
 */
import { hash, verify } from '@node-rs/argon2';
import { ARGON2_PARAMS, hashPassword } from '../shared/auth/passwords.js';
import type { BenchContext } from './lib.js';

const EMAIL = 'bench.user@example.com';
const PASSWORD = 'bench user passphrase 2026';

async function timeIt(times: number, fn: () => Promise<unknown>): Promise<number> {
  await fn();
  const started = process.hrtime.bigint();
  for (let i = 0; i < times; i++) await fn();
  return Number(process.hrtime.bigint() - started) / 1e6 / times;
}

export default async function run(ctx: BenchContext): Promise<void> {
  const stored = await hash(PASSWORD, ARGON2_PARAMS);
  const hashMs = await timeIt(20, () => hash(PASSWORD, ARGON2_PARAMS));
  const verifyMs = await timeIt(20, () => verify(stored, PASSWORD));
  const { memoryCost, timeCost, parallelism } = ARGON2_PARAMS;
  ctx.log(`argon2id m=${memoryCost},t=${timeCost},p=${parallelism}: hash ${hashMs.toFixed(1)} ms, verify ${verifyMs.toFixed(1)} ms (one at a time)`);

  await ctx.db
    .insertInto('users')
    .values({ email: EMAIL, name: 'Bench', passwordHash: await hashPassword(PASSWORD), emailVerifiedAt: new Date() })
    .onConflict((oc) => oc.column('email').doNothing())
    .execute();

  const hello = await ctx.startReference('hello');
  ctx.report({ name: 'hello-world', result: await ctx.load(hello, { path: '/' }) });
  await hello.stop();

  const app = await ctx.startApp();
  const res = await fetch(`${app.url}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: EMAIL, password: PASSWORD }),
  });
  if (!res.ok) throw new Error(`bench login failed: ${res.status} ${await res.text()}`);
  const { accessToken } = (await res.json()) as { accessToken: string };

  ctx.report({
    name: 'GET /api/v1/me',
    result: await ctx.load(app, { path: '/api/v1/me', headers: { authorization: `Bearer ${accessToken}` } }),
    baseline: 'hello-world',
    aim: 0.5,
  });
  // argon2 runs on libuv's thread pool: a handful of connections saturate it; more only queue.
  ctx.report({
    name: 'POST /api/v1/auth/login',
    result: await ctx.load(app, {
      path: '/api/v1/auth/login',
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: { email: EMAIL, password: PASSWORD },
      connections: 8,
    }),
  });
  await app.stop();
}
