import { spawn } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import path from 'node:path';
import t from 'tap';
import { ConfigError, loadConfig, repoRoot } from '../../shared/config.js';

const pair = () => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    JWT_PRIVATE_KEY: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    JWT_PUBLIC_KEY: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
};
const secrets = { ...pair(), ENCRYPTION_KEY: randomBytes(32).toString('hex') };

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

t.test('development defaults work with an empty environment', async (t) => {
  const config = loadConfig({});
  t.equal(config.NODE_ENV, 'development');
  t.equal(config.DATABASE_URL, 'postgres://postgres@127.0.0.1:5432/agape');
  t.equal(config.REDIS_URL, 'redis://127.0.0.1:6379');
  t.equal(config.PORT, 3000);
  t.equal(config.HOST, '0.0.0.0');
  t.equal(config.WORKER_PORT, 3001);
  t.equal(config.QUEUE_PREFIX, '{agape}');
  t.equal(config.CURRENCY, 'NGN');
  t.equal(config.VAT_RATE, 0.075);
  t.equal(config.RESERVATION_TTL_MINUTES, 15);
  t.equal(config.PAYSTACK_BASE_URL, 'https://api.paystack.co');
  t.match(config.JWT_PRIVATE_KEY, /BEGIN PRIVATE KEY/, 'a development key pair is generated');
  t.match(config.ENCRYPTION_KEY, /^[0-9a-f]{64}$/);
  t.same(loadConfig({}).JWT_PUBLIC_KEY, config.JWT_PUBLIC_KEY, 'the generated keys are kept, not regenerated');
  t.ok(Object.isFrozen(config));
});

t.test('numbers and booleans are converted from strings', async (t) => {
  const config = loadConfig({ PORT: '8080', VAT_RATE: '0.1', LOG_PRETTY: 'true', DATABASE_POOL_SIZE: '3' });
  t.equal(config.PORT, 8080);
  t.equal(config.VAT_RATE, 0.1);
  t.equal(config.LOG_PRETTY, true);
  t.equal(config.DATABASE_POOL_SIZE, 3);
});

t.test('one error names every bad variable at once', async (t) => {
  const env = {
    NODE_ENV: 'staging',
    DATABASE_URL: 'not a url',
    PORT: 'eighty',
    VAT_RATE: '2',
    QUEUE_PREFIX: 'agape',
    LOG_LEVEL: 'loud',
    LOG_PRETTY: 'maybe',
    ADMIN_EMAIL: 'nobody',
    CURRENCY: 'naira',
    WORKER_PORT: '70000',
    ENCRYPTION_KEY: 'abc',
  };
  let error: unknown;
  try {
    loadConfig(env);
  } catch (err) {
    error = err;
  }
  t.type(error, ConfigError);
  const message = (error as ConfigError).message;
  for (const name of Object.keys(env)) t.match(message, new RegExp(`^  - ${name}: `, 'm'), `${name} is named`);
  t.equal((error as ConfigError).problems.length, Object.keys(env).length, 'one line per problem');
  t.match(message, /NODE_ENV: must be one of \["development","test","production"\]/);
  t.match(message, /LOG_LEVEL: must be one of .*"info"/);
});

t.test('production requires the JWT key pair and ENCRYPTION_KEY', async (t) => {
  const problems = problemsOf({ NODE_ENV: 'production' });
  t.same(problems.sort(), ['ENCRYPTION_KEY: is required', 'JWT_PRIVATE_KEY: is required', 'JWT_PUBLIC_KEY: is required']);
  t.same(problemsOf({ NODE_ENV: 'production', ...secrets }), [], 'given them, production starts');
  t.same(
    problemsOf({ NODE_ENV: 'production', ...secrets, ENCRYPTION_KEY: 'ab'.repeat(16) }),
    ['ENCRYPTION_KEY: must match pattern "^[0-9a-fA-F]{64}$"'],
    'the encryption key must be 32 bytes of hex',
  );
  t.match(problemsOf({ NODE_ENV: 'production', ...secrets, LOG_PRETTY: 'true' }), ['LOG_PRETTY: not allowed in production']);
});

t.test('JWT keys must be readable RSA PEMs of one pair', async (t) => {
  const other = pair();
  t.match(problemsOf({ NODE_ENV: 'production', ...secrets, JWT_PUBLIC_KEY: 'not a pem', JWT_PRIVATE_KEY: 'nor this' }), [
    'JWT_PRIVATE_KEY: is not a readable PEM key',
    'JWT_PUBLIC_KEY: is not a readable PEM key',
  ]);
  t.same(problemsOf({ ...secrets, JWT_PUBLIC_KEY: other.JWT_PUBLIC_KEY }), ['JWT_PUBLIC_KEY: does not belong to JWT_PRIVATE_KEY']);
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  t.same(problemsOf({ ...secrets, JWT_PREVIOUS_PUBLIC_KEY: publicKey.export({ type: 'spki', format: 'pem' }).toString() }), [
    'JWT_PREVIOUS_PUBLIC_KEY: must be an RSA key (RS256)',
  ]);
  const escaped = { ...secrets, JWT_PRIVATE_KEY: secrets.JWT_PRIVATE_KEY.replace(/\n/g, '\\n') };
  t.equal(loadConfig(escaped).JWT_PRIVATE_KEY, secrets.JWT_PRIVATE_KEY, 'PEMs with literal \\n (from .env files) are accepted');
});

/** Runs an entrypoint with only the given environment; resolves with its exit code and stderr. */
function runEntrypoint(file: string, env: Record<string, string>) {
  return new Promise<{ code: number | null; stderr: string; stdout: string }>((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(repoRoot, 'node_modules/tsx/dist/cli.mjs'), file], {
      cwd: repoRoot,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    let stdout = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr, stdout });
    });
  });
}

t.test('api and worker entrypoints exit 1 with one message naming every problem', async (t) => {
  const env = { NODE_ENV: 'production', PORT: 'eighty', REDIS_URL: 'localhost' };
  const entries = ['api/server.ts', 'worker/main.ts'];
  // Both at once: each spends most of its time loading TypeScript.
  const results = await Promise.all(entries.map((entry) => runEntrypoint(entry, env)));
  entries.forEach((entry, i) => {
    const { code, stderr, stdout } = results[i];
    t.equal(code, 1, `${entry} exits 1`);
    t.match(stderr, /^Invalid configuration:\n/, entry);
    for (const name of ['PORT', 'REDIS_URL', 'JWT_PRIVATE_KEY', 'JWT_PUBLIC_KEY', 'ENCRYPTION_KEY']) {
      t.match(stderr, new RegExp(`- ${name}: `), `${entry}: ${name} is named`);
    }
    t.notMatch(stderr, /\s+at \S+ \(/, `${entry}: no stack trace`);
    t.equal(stdout, '', `${entry}: nothing else is printed`);
  });
});
