/**
 * No Docker engine runs on our machines, so the compose file is checked the way an engine would read
 * it: Debian's `docker-compose config` resolves variables, anchors and merges, and we assert on the
 * result. The Dockerfiles are checked for the few properties that matter (multi-stage, non-root, entry
 * points matching package.json).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { loadConfig, repoRoot } from '../../shared/config.js';
import { onPath } from '../../scripts/dev-services.js';
import { asEnvLines, productionSecrets } from '../../scripts/gen-secrets.js';

const compose = onPath('docker-compose');
// docker-compose is a Python program that depends on PyYAML: that same interpreter turns its YAML into JSON.
const python = '/usr/bin/python3';
const skip = compose ? false : 'docker-compose is not installed (Debian: apt-get install docker-compose)';

interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[] | string;
  environment?: Record<string, string>;
  ports?: { published: number | string; target: number }[];
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
}

function composeConfig(envFileText: string): { status: number | null; stdout: string; stderr: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'agape-compose-'));
  try {
    const envFile = path.join(dir, 'compose.env');
    writeFileSync(envFile, envFileText);
    // A clean environment: only the env file supplies variables (not the developer's shell or .env).
    const result = spawnSync(
      compose!,
      ['--env-file', envFile, '-f', path.join(repoRoot, 'docker-compose.yml'), 'config'],
      {
        cwd: repoRoot,
        env: { PATH: process.env.PATH, HOME: process.env.HOME },
        encoding: 'utf8',
      },
    );
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function yamlToJson(text: string): {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
} {
  const result = spawnSync(
    python,
    ['-c', 'import sys, json, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)'],
    {
      input: text,
      encoding: 'utf8',
    },
  );
  if (result.status !== 0) throw new Error(`YAML to JSON failed: ${result.stderr}`);
  return JSON.parse(result.stdout) as { services: Record<string, ComposeService> };
}

t.test('docker-compose config: services, health checks, order of start, environment', { skip }, async (t) => {
  const secrets = productionSecrets();
  const run = composeConfig(`${asEnvLines(secrets)}\n`);
  t.equal(run.status, 0, run.stderr);
  const { services, volumes } = yamlToJson(run.stdout);

  t.same(Object.keys(services).sort(), ['api', 'mailpit', 'migrate', 'postgres', 'redis', 'worker']);
  t.match(services.postgres.image, /^postgres:15/);
  t.match(services.redis.image, /^redis:7/);
  const redisCommand = [services.redis.command ?? []].flat().join(' ');
  t.match(redisCommand, '--maxmemory-policy noeviction', 'queues are never evicted');
  t.match(redisCommand, '--appendonly yes', 'AOF on');
  t.same(services.mailpit.ports?.map((p) => p.target).sort(), [1025, 8025], 'Mailpit SMTP and UI');
  t.ok(volumes && 'pgdata' in volumes, 'PostgreSQL data in a named volume');

  for (const name of ['postgres', 'redis', 'mailpit', 'api', 'worker']) {
    t.ok(services[name].healthcheck?.test.length, `${name} has a health check`);
  }
  t.match(services.api.healthcheck?.test.join(' '), 'http://127.0.0.1:3000/health/ready');
  t.match(services.worker.healthcheck?.test.join(' '), 'http://127.0.0.1:3001/health/ready');

  t.same(services.migrate.build, { context: path.resolve(repoRoot), dockerfile: 'Dockerfile.api' });
  t.same([services.migrate.command].flat(), ['node', 'dist/scripts/migrate.js']);
  t.equal(services.migrate.depends_on?.postgres.condition, 'service_healthy');
  for (const name of ['api', 'worker']) {
    const s = services[name];
    t.equal(s.build?.dockerfile, name === 'api' ? 'Dockerfile.api' : 'Dockerfile.worker');
    t.equal(
      s.depends_on?.migrate.condition,
      'service_completed_successfully',
      `${name} waits for migrations`,
    );
    t.equal(s.depends_on?.postgres.condition, 'service_healthy');
    t.equal(s.depends_on?.redis.condition, 'service_healthy');
    const env = s.environment!;
    t.equal(env.NODE_ENV, 'production');
    t.match(env.DATABASE_URL, /^postgres:\/\/postgres:[^@]+@postgres:5432\/agape$/);
    t.equal(env.REDIS_URL, 'redis://redis:6379');
    t.equal(env.SMTP_URL, 'smtp://mailpit:1025');
    // What compose hands the container passes our own production validation, keys included.
    const config = loadConfig(env);
    t.equal(config.JWT_PUBLIC_KEY, secrets.JWT_PUBLIC_KEY, `${name}: the PEM survives the env file`);
    t.equal(config.ENCRYPTION_KEY, secrets.ENCRYPTION_KEY);
  }
  t.equal(services.api.environment!.PORT, '3000');
  t.equal(services.worker.environment!.WORKER_PORT, '3001');
});

t.test(
  'docker-compose config refuses to run production without secrets, naming what is missing',
  { skip },
  async (t) => {
    const run = composeConfig('');
    t.not(run.status, 0);
    t.match(run.stderr, /JWT_PRIVATE_KEY is not set/);
  },
);

t.test(
  'Dockerfiles: two stages, production dependencies only, non-root, entry points as package.json',
  async (t) => {
    const scripts = (
      JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as {
        scripts: Record<string, string>;
      }
    ).scripts;
    for (const [file, script, port] of [
      ['Dockerfile.api', 'start:api', '3000'],
      ['Dockerfile.worker', 'start:worker', '3001'],
    ] as const) {
      const text = readFileSync(path.join(repoRoot, file), 'utf8');
      const stages = text.split(/^FROM /m).slice(1);
      t.equal(stages.length, 2, `${file}: build stage + runtime stage`);
      t.match(stages[0], /^node:20-slim AS build/);
      t.match(stages[0], /RUN npm ci/);
      t.match(stages[0], /RUN npm run build/);
      const runtime = stages[1];
      t.match(runtime, /^node:20-slim/);
      t.match(runtime, /npm ci --omit=dev/);
      t.match(runtime, /COPY --from=build \/app\/dist \.\/dist/);
      t.match(runtime, /^USER node$/m, `${file} runs as the non-root node user`);
      t.match(runtime, new RegExp(`^EXPOSE ${port}$`, 'm'));
      const cmd = /^CMD (\[.*\])$/m.exec(runtime)?.[1];
      t.same(JSON.parse(cmd ?? '[]'), scripts[script].split(' '), `${file} CMD is \`npm run ${script}\``);
    }
    const ignored = readFileSync(path.join(repoRoot, '.dockerignore'), 'utf8').split('\n');
    for (const entry of ['node_modules', '.env', '.dev-secrets.json', '.data', '.git']) {
      t.ok(ignored.includes(entry), `.dockerignore keeps ${entry} out of the image`);
    }
  },
);
