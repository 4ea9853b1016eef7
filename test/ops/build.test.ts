/**
 * What the Docker images run, run here: the production build (tsc → dist), then `node dist/scripts/migrate.js`
 * on a database that does not exist yet, then `node dist/api/server.js` and `node dist/worker/main.js`
 * with NODE_ENV=production, each answering /health/ready and stopping with exit 0 on SIGTERM.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import pg from 'pg';
import t from 'tap';
import { repoRoot } from '../../shared/config.js';
import { createRedis } from '../../shared/redis.js';
import { productionSecrets } from '../../scripts/gen-secrets.js';
import { ADMIN_URL, REDIS_URL } from '../support/harness.js';

const id = `${process.pid}_${Date.now().toString(36)}`;
// Inside the repository so the built files resolve node_modules as they do in the image's /app.
const outDir = path.join(repoRoot, '.data', `build-check-${id}`, 'dist');
const database = `agape_build_${id}`;
const prefix = `{build_${id}}`;
const dbUrl = new URL(ADMIN_URL);
dbUrl.pathname = `/${database}`;

const env = {
  PATH: process.env.PATH,
  NODE_ENV: 'production',
  ...productionSecrets(),
  DATABASE_URL: dbUrl.toString(),
  REDIS_URL,
  QUEUE_PREFIX: prefix,
  HOST: '127.0.0.1',
  PORT: '0',
  WORKER_PORT: '0',
  LOG_LEVEL: 'info',
  // The seed creates the first admin, and in production insists on being told who.
  ADMIN_EMAIL: 'admin@build-check.test',
  ADMIN_PASSWORD: 'a long build-check passphrase 2026',
};

// Compiling and starting three production processes on a busy 2-core machine takes a while.
t.setTimeout(300_000);

t.teardown(async () => {
  rmSync(path.dirname(outDir), { recursive: true, force: true });
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  await client.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  await client.end();
  const redis = createRedis(REDIS_URL, 'worker');
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
});

const node = (script: string) =>
  spawnSync(process.execPath, [path.join(outDir, script)], { cwd: repoRoot, env, encoding: 'utf8' });

/** Starts a built entry point, waits for the log line that carries its port, returns it with a stopper. */
async function startBuilt(script: string, portOf: (line: Record<string, unknown>) => number | undefined) {
  const child = spawn(process.execPath, [path.join(outDir, script)], {
    cwd: repoRoot,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} did not start: ${output}`)), 60_000);
    void exited.then((code) => reject(new Error(`${script} exited with ${code}: ${output}`)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      output += `${line}\n`;
      try {
        const found = portOf(JSON.parse(line) as Record<string, unknown>);
        if (found) {
          clearTimeout(timer);
          resolve(found);
        }
      } catch {
        // not a JSON log line
      }
    });
  });
  return {
    port,
    stop: async () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

t.test('the production build migrates, serves and stops like the images do', async (t) => {
  // The same tsconfig as `npm run build`, without the type check (`npm test` type-checks on its own).
  spawnSync(
    process.execPath,
    ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json', '--outDir', outDir, '--noCheck'],
    {
      cwd: repoRoot,
      encoding: 'utf8',
    },
  );
  // Step 2 of `npm run build`: files the modules read at run time.
  const copied = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/copy-assets.ts', outDir], {
    cwd: repoRoot,
    encoding: 'utf8',
  });
  t.equal(copied.status, 0, copied.stderr);
  for (const file of ['api/server.js', 'worker/main.js', 'scripts/migrate.js', 'scripts/seed.js']) {
    t.ok(existsSync(path.join(outDir, file)), `dist/${file} built`);
  }
  t.notOk(existsSync(path.join(outDir, 'test')), 'no test code (stand-ins, fixtures) in the build');
  const sources = readdirSync(path.join(repoRoot, 'migrations')).filter((f) => f.endsWith('.ts'));
  const built = readdirSync(path.join(outDir, 'migrations'));
  t.same(
    built.filter((f) => f.endsWith('.js')).sort(),
    sources.map((f) => f.replace(/\.ts$/, '.js')).sort(),
    'every migration compiled into dist/migrations (source maps beside them are ignored by the migrator)',
  );

  const first = node('scripts/migrate.js');
  t.equal(first.status, 0, first.stderr);
  t.match(first.stdout, `created database ${database}`);
  t.equal(first.stdout.match(/^applied: /gm)?.length, sources.length, 'every migration applied');
  const second = node('scripts/migrate.js');
  t.equal(second.status, 0, second.stderr);
  t.match(second.stdout, 'database is up to date');
  const seed = node('scripts/seed.js');
  t.equal(seed.status, 0, `${seed.stdout}${seed.stderr}`);

  const api = await startBuilt('api/server.js', (l) => {
    const m = /^Server listening at http:\/\/127\.0\.0\.1:(\d+)$/.exec(String(l.msg));
    return m ? Number(m[1]) : undefined;
  });
  const worker = await startBuilt('worker/main.js', (l) =>
    l.msg === 'worker started' ? Number(l.port) : undefined,
  );
  const ready = await fetch(`http://127.0.0.1:${api.port}/health/ready`);
  t.equal(ready.status, 200, 'API ready');
  t.equal((await fetch(`http://127.0.0.1:${worker.port}/health/ready`)).status, 200, 'worker ready');
  t.equal(await api.stop(), 0, 'API exits 0 on SIGTERM');
  t.equal(await worker.stop(), 0, 'worker exits 0 on SIGTERM');
});
