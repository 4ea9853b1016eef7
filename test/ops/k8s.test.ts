/**
 * No cluster runs here, so deploy/k8s is checked the way a cluster would read it: each overlay is
 * rendered by kustomize (`kubectl kustomize`) and every object is validated against the Kubernetes
 * JSON schemas (kubernetes-models) and KEDA's CRD schema (@kubernetes-models/keda). Then the things a
 * schema cannot see: every reference (ConfigMap, Secret, scale target) names an object of the render,
 * probes hit the health routes on the configured ports, the KEDA list names are BullMQ's wait lists
 * under QUEUE_PREFIX for every queue, exactly once, and the drain time covers the worker's deadline.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { parseAllDocuments } from 'yaml';
import * as keda from '@kubernetes-models/keda/keda.sh/v1alpha1';
import * as appsV1 from 'kubernetes-models/apps/v1';
import * as autoscalingV2 from 'kubernetes-models/autoscaling/v2';
import * as batchV1 from 'kubernetes-models/batch/v1';
import * as networkingV1 from 'kubernetes-models/networking.k8s.io/v1';
import * as policyV1 from 'kubernetes-models/policy/v1';
import * as coreV1 from 'kubernetes-models/v1';
import { ConfigSchema, repoRoot } from '../../shared/config.js';
import * as queuesModule from '../../shared/queues.js';
import { onPath } from '../../scripts/dev-services.js';

const { queueNames } = queuesModule;
/** The worker's own group → queues table (shared/queues.ts `queueGroups`, read by WORKER_QUEUES), where the code has one. */
const codeGroups = (queuesModule as Record<string, unknown>).queueGroups as
  Record<string, readonly string[]> | undefined;
const k8sDir = path.join(repoRoot, 'deploy', 'k8s');
const overlays = readdirSync(path.join(k8sDir, 'overlays')).sort();
const kubectl = onPath('kubectl');
const noKustomize = kubectl
  ? false
  : 'kubectl (with its built-in kustomize) is not installed: overlays are not rendered';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Obj = Record<string, any>;
interface Model {
  apiVersion: string;
  kind: string;
  new (data: Obj): { validate(): void };
}

const models = new Map<string, Model>();
for (const mod of [coreV1, appsV1, batchV1, policyV1, autoscalingV2, networkingV1, keda] as Record<
  string,
  unknown
>[]) {
  for (const value of Object.values(mod)) {
    if (typeof value !== 'function') continue;
    const m = value as unknown as Model;
    if (typeof m.apiVersion === 'string' && typeof m.kind === 'string')
      models.set(`${m.apiVersion}/${m.kind}`, m);
  }
}

/** Schema problems of each object, as "Kind/name: message"; an apiVersion/kind we hold no schema for is one too. */
export function schemaProblems(objects: Obj[]): string[] {
  const problems: string[] = [];
  for (const o of objects) {
    const id = `${o.kind}/${o.metadata?.name}`;
    const model = models.get(`${o.apiVersion}/${o.kind}`);
    if (!model) {
      problems.push(`${id}: no schema for ${o.apiVersion} ${o.kind}`);
      continue;
    }
    try {
      new model(o).validate();
    } catch (err) {
      problems.push(`${id}: ${(err as Error).message}`);
    }
  }
  return problems;
}

const parseYaml = (text: string): Obj[] =>
  parseAllDocuments(text)
    .map((d) => {
      if (d.errors.length) throw d.errors[0];
      return d.toJS() as Obj | null;
    })
    .filter((o): o is Obj => o !== null);

/** The overlay rendered from a copy of deploy/k8s whose secrets.env is the committed example. */
function render(overlay: string): Obj[] {
  const dir = mkdtempSync(path.join(tmpdir(), 'agape-k8s-'));
  try {
    cpSync(k8sDir, dir, { recursive: true, filter: (src) => path.basename(src) !== 'secrets.env' });
    const od = path.join(dir, 'overlays', overlay);
    cpSync(path.join(od, 'secrets.env.example'), path.join(od, 'secrets.env'));
    const r = spawnSync(kubectl!, ['kustomize', od], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`kubectl kustomize ${overlay} failed: ${r.stderr}`);
    const objects = parseYaml(r.stdout);
    // kustomize folds long base64 values over lines; the API server's decoder (Go's) skips the newlines,
    // the schema's "byte" format does not.
    for (const o of byKind(objects, 'Secret'))
      for (const k of Object.keys(o.data ?? {})) o.data[k] = (o.data[k] as string).replace(/\s+/g, '');
    return objects;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const byKind = (objects: Obj[], kind: string) => objects.filter((o) => o.kind === kind);
const one = (objects: Obj[], kind: string, name: string) =>
  objects.find((o) => o.kind === kind && o.metadata.name === name);
const podSpec = (o: Obj): Obj => o.spec.template.spec;
const envFile = (file: string) =>
  Object.fromEntries(
    readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l && !l.startsWith('#'))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );

/** References a schema cannot check: each one must name an object of the same render. */
export function referenceProblems(objects: Obj[]): string[] {
  const problems: string[] = [];
  const has = (kind: string, name: string) =>
    objects.some((o) => o.kind === kind && o.metadata.name === name);
  const need = (from: Obj, kind: string, name: string) => {
    if (!has(kind, name))
      problems.push(`${from.kind}/${from.metadata.name} refers to missing ${kind}/${name}`);
  };
  for (const o of objects) {
    if (o.spec?.template?.spec) {
      for (const c of podSpec(o).containers as Obj[]) {
        for (const e of (c.envFrom ?? []) as Obj[]) {
          if (e.configMapRef) need(o, 'ConfigMap', e.configMapRef.name);
          if (e.secretRef) need(o, 'Secret', e.secretRef.name);
        }
      }
    }
    if (o.kind === 'HorizontalPodAutoscaler' || o.kind === 'ScaledObject')
      need(o, o.spec.scaleTargetRef.kind ?? 'Deployment', o.spec.scaleTargetRef.name);
    if (o.kind === 'ScaledObject')
      for (const tr of o.spec.triggers as Obj[])
        if (tr.authenticationRef) need(o, 'TriggerAuthentication', tr.authenticationRef.name);
    if (o.kind === 'TriggerAuthentication')
      for (const s of o.spec.secretTargetRef as Obj[]) need(o, 'Secret', s.name);
    if (o.kind === 'Ingress')
      for (const r of o.spec.rules as Obj[])
        for (const p of r.http.paths as Obj[]) need(o, 'Service', p.backend.service.name);
    const selector: Obj | undefined =
      o.kind === 'PodDisruptionBudget'
        ? o.spec.selector.matchLabels
        : o.kind === 'Service'
          ? o.spec.selector
          : undefined;
    if (selector) {
      const matched = objects.some(
        (d) =>
          d.spec?.template?.metadata?.labels &&
          Object.entries(selector).every(([k, v]) => d.spec.template.metadata.labels[k] === v),
      );
      if (!matched) problems.push(`${o.kind}/${o.metadata.name} selects no pods`);
    }
  }
  return problems;
}

const source = (file: string) => readFileSync(path.join(repoRoot, file), 'utf8');
/** The worker's own shutdown deadline (worker/main.ts): the kubelet's grace period must outlast it. */
const workerDeadlineMs = Number(
  /shutdownTimeoutMs \?\? ([\d_]+)/.exec(source('worker/main.ts'))![1].replace(/_/g, ''),
);
const configKeys = new Set(Object.keys(ConfigSchema.properties));
const kedaKeys = ['KEDA_REDIS_ADDRESS', 'KEDA_REDIS_PASSWORD'];
const secretKeys = [
  'DATABASE_URL',
  'REDIS_URL',
  'JWT_PRIVATE_KEY',
  'JWT_PUBLIC_KEY',
  'ENCRYPTION_KEY',
  'PAYSTACK_SECRET_KEY',
  'CLOUDINARY_URL',
  'SMTP_URL',
];

t.test(
  'the validator itself: a broken object, an unknown kind and a dangling reference are reported',
  async (t) => {
    const base = parseYaml(source('deploy/k8s/base/api.yaml'));
    t.same(schemaProblems(base), [], 'api.yaml as committed is valid');
    const deployment = structuredClone(one(base, 'Deployment', 'agape-api')!);
    deployment.spec.replicas = 'two';
    delete podSpec(deployment).containers[0].readinessProbe.httpGet.port;
    const [problem] = schemaProblems([deployment]);
    t.match(problem, /^Deployment\/agape-api: .*replicas must be integer/);
    t.match(problem, /readinessProbe\/httpGet must have required property port/);
    t.match(schemaProblems([{ apiVersion: 'example.com/v1', kind: 'Gadget', metadata: { name: 'x' } }]), [
      /no schema/,
    ]);
    const scaled = parseYaml(source('deploy/k8s/base/keda.yaml')).find((o) => o.kind === 'ScaledObject')!;
    t.same(schemaProblems([scaled]), []);
    scaled.spec.triggers[0].metadata.listLength = 10;
    t.match(schemaProblems([scaled]), [/listLength must be string/], "KEDA's schema is applied too");
    t.match(
      referenceProblems(base),
      [/missing ConfigMap\/agape-config/, /missing Secret\/agape-secrets/],
      'the base alone lacks the generated objects',
    );
  },
);

t.test('every file under deploy/k8s/base and the overlays parses and validates as written', async (t) => {
  const dirs = [path.join(k8sDir, 'base'), ...overlays.map((o) => path.join(k8sDir, 'overlays', o))];
  for (const dir of dirs) {
    for (const file of readdirSync(dir).filter(
      (f) => f.endsWith('.yaml') && f !== 'kustomization.yaml' && f !== 'kustomizeconfig.yaml',
    )) {
      const objects = parseYaml(readFileSync(path.join(dir, file), 'utf8'));
      t.ok(objects.length > 0, `${path.relative(k8sDir, dir)}/${file} holds objects`);
      t.same(schemaProblems(objects), [], `${path.relative(k8sDir, dir)}/${file} is valid`);
    }
  }
});

t.test('the overlays exist and each has a secrets.env.example of known variables', async (t) => {
  t.ok(overlays.includes('staging') && overlays.includes('production'), `overlays: ${overlays.join(', ')}`);
  for (const overlay of overlays) {
    const keys = Object.keys(envFile(path.join(k8sDir, 'overlays', overlay, 'secrets.env.example')));
    for (const k of keys)
      t.ok(
        configKeys.has(k) || kedaKeys.includes(k),
        `${overlay}: ${k} is a configuration variable or KEDA's`,
      );
    for (const k of [...secretKeys, ...kedaKeys])
      t.ok(keys.includes(k), `${overlay}: secrets.env.example has ${k}`);
  }
  t.match(
    source('.gitignore'),
    /^deploy\/k8s\/overlays\/\*\/secrets\.env$/m,
    'filled-in secrets.env files stay out of git',
  );
});

for (const overlay of overlays) {
  t.test(`overlay ${overlay}: renders, validates and holds together`, { skip: noKustomize }, async (t) => {
    const objects = render(overlay);
    t.same(schemaProblems(objects), [], 'every object validates against its schema');
    t.same(referenceProblems(objects), [], 'every reference resolves');
    const namespace = byKind(objects, 'Namespace')[0]?.metadata.name;
    t.ok(namespace, 'the overlay creates its namespace');
    for (const o of objects.filter((o) => o.kind !== 'Namespace'))
      t.equal(o.metadata.namespace, namespace, `${o.kind}/${o.metadata.name} is in ${namespace}`);

    const configMap = byKind(objects, 'ConfigMap').find((c) => c.metadata.name.startsWith('agape-config'))!;
    const secret = byKind(objects, 'Secret').find((s) => s.metadata.name.startsWith('agape-secrets'))!;
    t.ok(configMap && secret, 'the ConfigMap and the Secret are generated');
    for (const k of Object.keys(configMap.data))
      t.ok(configKeys.has(k), `ConfigMap key ${k} is a configuration variable`);
    for (const k of secretKeys) t.notOk(k in configMap.data, `${k} is not in the ConfigMap`);
    for (const k of secretKeys) t.ok(k in secret.data, `the Secret carries ${k}`);
    const config = configMap.data as Record<string, string>;
    t.equal(config.NODE_ENV, 'production');

    // Every container: requests and limits, non-root, read-only root.
    for (const o of objects.filter((o) => o.spec?.template?.spec)) {
      const spec = podSpec(o);
      t.equal(spec.securityContext?.runAsNonRoot, true, `${o.metadata.name} runs as non-root`);
      for (const c of spec.containers as Obj[]) {
        for (const k of ['requests', 'limits'])
          for (const r of ['cpu', 'memory'])
            t.ok(c.resources?.[k]?.[r], `${o.metadata.name}/${c.name} has ${k}.${r}`);
        t.equal(
          c.securityContext?.readOnlyRootFilesystem,
          true,
          `${o.metadata.name}/${c.name} has a read-only root`,
        );
        t.equal(c.securityContext?.allowPrivilegeEscalation, false);
      }
    }

    // The API: probes on the health routes and PORT; an HPA on CPU; a PDB; a Service and an Ingress to it.
    t.match(source('api/routes/operations.ts'), /'\/health\/ready'/);
    t.match(source('api/routes/operations.ts'), /'\/health\/live'/);
    const api = one(objects, 'Deployment', 'agape-api')!;
    const apiContainer = podSpec(api).containers[0];
    const apiPort = (apiContainer.ports as Obj[]).find((p) => p.name === 'http')!;
    t.equal(String(apiPort.containerPort), config.PORT, 'the API container port is PORT');
    t.equal(apiContainer.readinessProbe.httpGet.path, '/health/ready');
    t.equal(apiContainer.livenessProbe.httpGet.path, '/health/live');
    t.equal(apiContainer.readinessProbe.httpGet.port, 'http');
    const startApi = (JSON.parse(source('package.json')) as { scripts: Record<string, string> }).scripts['start:api'];
    t.same(apiContainer.command, startApi.split(' '), 'the API runs as `npm run start:api` (its V8 flags too)');
    const hpa = one(objects, 'HorizontalPodAutoscaler', 'agape-api')!;
    t.same(
      hpa.spec.metrics.map((m: Obj) => m.resource?.name),
      ['cpu'],
      'the API scales on CPU',
    );
    t.ok(one(objects, 'PodDisruptionBudget', 'agape-api'), 'the API has a PodDisruptionBudget');
    t.ok(byKind(objects, 'Ingress').length === 1, 'one Ingress');

    // Workers: one Deployment per group, WORKER_QUEUES set, drained within the grace period, scaled by KEDA
    // on BullMQ's wait lists under QUEUE_PREFIX; every queue in exactly one group.
    const workers = byKind(objects, 'Deployment').filter((d) => d.metadata.name.startsWith('agape-worker-'));
    t.same(workers.map((w) => w.metadata.name).sort(), [
      'agape-worker-invoices',
      'agape-worker-mail',
      'agape-worker-payments',
      'agape-worker-scheduled',
    ]);
    const queuesSeen: string[] = [];
    for (const w of workers) {
      const group = w.metadata.name.replace('agape-worker-', '');
      const c = podSpec(w).containers[0];
      t.same(c.command, ['node', 'dist/worker/main.js']);
      t.same(
        (c.env as Obj[]).find((e) => e.name === 'WORKER_QUEUES'),
        { name: 'WORKER_QUEUES', value: group },
        `${group}: WORKER_QUEUES`,
      );
      t.equal(
        String((c.ports as Obj[])[0].containerPort),
        config.WORKER_PORT,
        `${group}: the container port is WORKER_PORT`,
      );
      t.equal(c.readinessProbe.httpGet.path, '/health/ready');
      t.equal(c.livenessProbe.httpGet.path, '/health/live');
      t.ok(
        podSpec(w).terminationGracePeriodSeconds * 1000 >= workerDeadlineMs + 10_000,
        `${group}: grace period outlasts the ${workerDeadlineMs} ms drain`,
      );
      t.ok(one(objects, 'PodDisruptionBudget', w.metadata.name), `${group}: has a PodDisruptionBudget`);
      const scaled = byKind(objects, 'ScaledObject').find(
        (s) => s.spec.scaleTargetRef.name === w.metadata.name,
      );
      if (!t.ok(scaled, `${group}: has a ScaledObject`) || !scaled) continue;
      t.ok(
        scaled.spec.minReplicaCount >= 1,
        `${group}: never scaled to zero (delayed jobs need a running worker)`,
      );
      const groupQueues: string[] = [];
      for (const tr of scaled.spec.triggers as Obj[]) {
        t.equal(tr.type, 'redis');
        const m = /^(.+):([^:]+):wait$/.exec(tr.metadata.listName as string);
        t.ok(m, `${tr.metadata.listName} is a BullMQ wait list`);
        t.equal(m![1], config.QUEUE_PREFIX, `${tr.metadata.listName} is under QUEUE_PREFIX`);
        queuesSeen.push(m![2]);
        groupQueues.push(m![2]);
      }
      if (codeGroups)
        t.same(
          [...groupQueues].sort(),
          [...(codeGroups[group] ?? [])].sort(),
          `${group}: KEDA watches the queues WORKER_QUEUES=${group} runs`,
        );
    }
    t.same([...queuesSeen].sort(), [...queueNames].sort(), 'every queue is scaled on, in exactly one group');

    // Migrations: a Job running the migrate script from the API image.
    const job = one(objects, 'Job', 'agape-migrate')!;
    t.same(podSpec(job).containers[0].command, ['node', 'dist/scripts/migrate.js']);
    t.ok(existsSync(path.join(repoRoot, 'scripts', 'migrate.ts')));
    t.equal(podSpec(job).containers[0].image, apiContainer.image, 'migrations run from the API image');

    // Network: default deny for both directions, then the allowances.
    const deny = byKind(objects, 'NetworkPolicy').find(
      (p) => Object.keys(p.spec.podSelector).length === 0 && !p.spec.ingress && !p.spec.egress,
    );
    t.same(deny?.spec.policyTypes, ['Ingress', 'Egress'], 'a default-deny NetworkPolicy');
  });
}
