/**
 * The operator's documents (docs/) are part of the interface like the README: every file, npm script,
 * variable and runbook section they name must exist, so following them never hits a dead end.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { ConfigSchema, repoRoot } from '../../shared/config.js';

const docs = ['docs/deploy.md', 'docs/runbooks.md', 'docs/security.md', 'docs/backup.md'];
const read = (file: string) => readFileSync(path.join(repoRoot, file), 'utf8');
const scripts = Object.keys(
  (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts,
);
const variables = new Set(Object.keys(ConfigSchema.properties));
/** Names that are not the app's variables: KEDA's copy of the Redis address, Compose's database password. */
const otherVariables = new Set([
  'KEDA_REDIS_ADDRESS',
  'KEDA_REDIS_PASSWORD',
  'POSTGRES_PASSWORD',
  'WORKER_QUEUES',
]);

const anchor = (heading: string) =>
  heading
    .toLowerCase()
    .replace(/[^\w\s-]/g, '')
    .trim()
    .replace(/\s+/g, '-');
const anchorsOf = (file: string) =>
  new Set([...read(file).matchAll(/^#{1,3} (.+)$/gm)].map((m) => anchor(m[1])));

t.test('the runbooks cover every incident the issue names', async (t) => {
  const headings = [...read('docs/runbooks.md').matchAll(/^## (.+)$/gm)].map((m) => m[1]).join('\n');
  for (const topic of [
    /Paystack down/,
    /Redis down or lost/,
    /stuck or failed refund/,
    /Reconciliation discrepancies/,
    /Replaying failed jobs/,
    /Rotating the JWT keys/,
    /Rotating the Paystack secret/,
  ])
    t.match(headings, topic);
});

for (const file of docs) {
  t.test(`${file}: what it names exists`, async (t) => {
    const text = read(file);
    t.ok(text.length > 1000, 'has content');
    for (const [, ref] of text.matchAll(
      /`((?:deploy|docs|scripts|test|shared|api|worker|migrations)\/[\w./-]+?)`/g,
    )) {
      const clean = ref.replace(/#.*$/, '');
      t.ok(existsSync(path.join(repoRoot, clean)), `${clean} exists`);
    }
    for (const [, name] of text.matchAll(/npm run ([\w:-]+)/g))
      t.ok(scripts.includes(name), `npm run ${name} is a script`);
    for (const [, name] of text.matchAll(/`([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)(?:=[^`]*)?`/g))
      t.ok(variables.has(name) || otherVariables.has(name), `${name} is a configuration variable`);
    for (const [, target, hash] of text.matchAll(/(docs\/[\w-]+\.md)#([\w-]+)/g))
      t.ok(anchorsOf(target).has(hash), `${target}#${hash} resolves`);
    for (const [, hash] of text.matchAll(/\]\(#([\w-]+)\)/g))
      t.ok(anchorsOf(file).has(hash), `#${hash} resolves in ${file}`);
  });
}

t.test('the deploy guide walks from an empty cluster to a running shop', async (t) => {
  const guide = read('docs/deploy.md');
  for (const step of [
    '## Docker Compose',
    '## Kubernetes',
    'KEDA',
    'metrics-server',
    'secrets.env',
    'deploy/k8s/rollout.sh production',
    'seed.js',
    '/health/ready',
    'webhooks/paystack',
  ])
    t.match(guide, step);
});
