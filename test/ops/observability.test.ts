/**
 * The observability kit (deploy/prometheus, deploy/grafana) against the code: every metric an alert
 * or a dashboard panel reads must be one the API's or a worker's /metrics exports (scraped here from
 * a real app and a real worker), one the postgres_exporter queries produce (each query is run against
 * the migrated schema), or one of the few redis_exporter metrics listed below. The rules are checked
 * for structure, runbook links that resolve, and by `promtool` where it is installed.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { parse } from 'yaml';
import { repoRoot } from '../../shared/config.js';
import { onPath } from '../../scripts/dev-services.js';
import { buildTestApp, startTestWorker, testEnv } from '../support/harness.js';
import pg from 'pg';

const read = (file: string) => readFileSync(path.join(repoRoot, file), 'utf8');
const alertsFile = 'deploy/prometheus/alerts.yml';
const queriesFile = 'deploy/prometheus/postgres-exporter-queries.yaml';
const dashboardFile = 'deploy/grafana/dashboard.json';

/** redis_exporter (oliver006/redis_exporter) metrics the Redis alerts use; nothing of ours exports these. */
const redisExporterMetrics = [
  'redis_up',
  'redis_evicted_keys_total',
  'redis_memory_used_bytes',
  'redis_memory_max_bytes',
];

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface ExporterQuery {
  query: string;
  metrics: Record<string, { usage: string; description: string }>[];
}

const PROMQL_WORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'and',
  'or',
  'unless',
  'offset',
  'inf',
  'nan',
]);

/**
 * Metric names a PromQL expression reads: identifiers that are not functions, keywords, label names
 * in matchers or grouping clauses, strings, ranges or Grafana variables.
 */
export function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, ' ')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\$\w+/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names = new Set<string>();
  for (const m of stripped.matchAll(/[A-Za-z_:][\w:]*(?!\s*\()/g)) {
    const word = m[0];
    // The lookahead fails on a prefix of a function name too (e.g. `histogram_quantil` + `e(`): skip those.
    const after = stripped.slice(m.index + word.length);
    if (/^[\w:]/.test(after) || /^\s*\(/.test(after) || PROMQL_WORDS.has(word.toLowerCase())) continue;
    if (/^\d/.test(word) || /^[smhdwy]$/.test(word)) continue;
    names.add(word);
  }
  return [...names];
}

/** Sample names a Prometheus text exposition declares (histograms as _bucket, _sum and _count). */
function exposedNames(text: string): string[] {
  const names: string[] = [];
  for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    if (type === 'histogram') names.push(`${name}_bucket`, `${name}_sum`, `${name}_count`);
    else if (type === 'summary') names.push(name, `${name}_sum`, `${name}_count`);
    else names.push(name);
  }
  return names;
}

const alerts = parse(read(alertsFile)) as { groups: { name: string; rules: Rule[] }[] };
const rules = alerts.groups.flatMap((g) => g.rules);
const exporterQueries = parse(read(queriesFile)) as Record<string, ExporterQuery>;
const exporterMetrics = Object.entries(exporterQueries).flatMap(([ns, q]) =>
  q.metrics.flatMap((m) =>
    Object.entries(m)
      .filter(([, spec]) => spec.usage !== 'LABEL')
      .map(([column]) => `${ns}_${column}`),
  ),
);
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const dashboard = JSON.parse(read(dashboardFile)) as Record<string, any>;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const panels = (dashboard.panels as any[]).filter((p) => p.type !== 'row');
const dashboardExprs: string[] = [
  ...panels.flatMap((p) => (p.targets as { expr: string }[]).map((tg) => tg.expr)),
  ...(dashboard.templating.list as { query?: { query?: string } }[])
    .map((v) => v.query?.query ?? '')
    .filter((q) => q.startsWith('label_values')),
];

t.test('metricNames reads the metrics out of PromQL', async (t) => {
  t.same(
    metricNames(
      'histogram_quantile(0.99, sum by (le, route) (rate(http_request_duration_seconds_bucket{route!~"/ws|x"}[5m]))) > 1',
    ),
    ['http_request_duration_seconds_bucket'],
  );
  t.same(metricNames('time() - max(a_b_seconds) > 26 * 3600'), ['a_b_seconds']);
  t.same(metricNames('redis_memory_used_bytes / (redis_memory_max_bytes > 0) > 0.8'), [
    'redis_memory_used_bytes',
    'redis_memory_max_bytes',
  ]);
  t.same(
    metricNames('sum by (queue) (increase(agape_jobs_total{outcome="failed"}[$__rate_interval])) * 60'),
    ['agape_jobs_total'],
  );
  t.same(
    metricNames('label_values(agape_queue_jobs, queue)'),
    ['agape_queue_jobs', 'queue'],
    'label_values arguments: the label is filtered by the caller',
  );
});

t.test('alerts.yml: groups of well-formed rules, each linked to a runbook section that exists', async (t) => {
  t.ok(alerts.groups.length > 0);
  const runbooks = read('docs/runbooks.md');
  const anchors = new Set(
    [...runbooks.matchAll(/^#{2,3} (.+)$/gm)].map((m) =>
      m[1]
        .toLowerCase()
        .replace(/[^\w\s-]/g, '')
        .trim()
        .replace(/\s+/g, '-'),
    ),
  );
  const names = new Set<string>();
  for (const group of alerts.groups) {
    t.match(group.name, /^[\w-]+$/);
    for (const rule of group.rules) {
      t.ok(rule.alert && /^[A-Z]\w+$/.test(rule.alert), `${rule.alert}: an alert named in CamelCase`);
      t.notOk(names.has(rule.alert!), `${rule.alert}: unique`);
      names.add(rule.alert!);
      t.ok(rule.expr.trim().length > 0, `${rule.alert}: has an expression`);
      t.same(
        Object.keys(rule).filter((k) => !['alert', 'expr', 'for', 'labels', 'annotations'].includes(k)),
        [],
        `${rule.alert}: no unknown keys`,
      );
      if (rule.for !== undefined) t.match(rule.for, /^\d+[smhdwy]$/, `${rule.alert}: for is a duration`);
      t.ok(
        ['warning', 'critical'].includes(rule.labels?.severity ?? ''),
        `${rule.alert}: severity warning or critical`,
      );
      t.ok(rule.annotations?.summary, `${rule.alert}: has a summary`);
      const [file, anchor] = (rule.annotations?.runbook_url ?? '').split('#');
      t.equal(file, 'docs/runbooks.md', `${rule.alert}: links docs/runbooks.md`);
      t.ok(anchors.has(anchor), `${rule.alert}: runbook section #${anchor} exists`);
    }
  }
  for (const required of [
    'AgapeHigh5xxRate',
    'AgapeHighP99Latency',
    'AgapeQueueBacklogAge',
    'AgapeJobsFailed',
    'AgapeRefundStuck',
    'AgapeReconciliationDrift',
    'AgapeRedisEvicting',
  ])
    t.ok(names.has(required), `alerts.yml has ${required}`);
});

const noPromtool = onPath('promtool')
  ? false
  : 'promtool is not installed (Debian: apt-get install prometheus)';

t.test('promtool accepts alerts.yml', { skip: noPromtool }, async (t) => {
  const r = spawnSync('promtool', ['check', 'rules', path.join(repoRoot, alertsFile)], { encoding: 'utf8' });
  t.equal(r.status, 0, r.stdout + r.stderr);
});

t.test(
  "promtool's unit tests: the alerts fire on the series they are about, and only then",
  { skip: noPromtool },
  async (t) => {
    const r = spawnSync(
      'promtool',
      ['test', 'rules', path.join(repoRoot, 'deploy/prometheus/alerts.test.yml')],
      { encoding: 'utf8' },
    );
    t.equal(r.status, 0, r.stdout + r.stderr);
  },
);

t.test('the Grafana dashboard: unique panel ids, a query per panel, on a 24-column grid', async (t) => {
  t.equal(dashboard.uid, 'agape-shop');
  const ids = (dashboard.panels as { id: number }[]).map((p) => p.id);
  t.equal(new Set(ids).size, ids.length, 'panel ids are unique');
  for (const p of panels) {
    t.ok(
      p.targets.length > 0 && p.targets.every((tg: { expr: string }) => tg.expr),
      `${p.title}: has queries`,
    );
    t.ok(p.gridPos.x + p.gridPos.w <= 24, `${p.title}: fits the grid`);
  }
  const titles = panels.map((p) => p.title as string).join('\n');
  for (const needed of [
    /Request rate/,
    /Latency/,
    /Error/,
    /Queue depth/,
    /Oldest waiting/,
    /failures/i,
    /Checkouts per minute/,
    /Payments per minute/,
    /discrepancies/i,
  ])
    t.match(titles, needed);
});

t.test('every metric an alert or a panel reads is exported', async (t) => {
  const { config } = await testEnv(t);
  const app = await buildTestApp(t, config);
  await app.inject({ method: 'GET', url: '/health/live' });
  const apiText = (await app.inject({ method: 'GET', url: '/metrics' })).body;
  const worker = await startTestWorker(t, config);
  const workerText = await (await fetch(`http://127.0.0.1:${worker.port}/metrics`)).text();
  const known = new Set([
    ...exposedNames(apiText),
    ...exposedNames(workerText),
    ...exporterMetrics,
    ...redisExporterMetrics,
  ]);
  for (const name of [
    'http_request_duration_seconds_bucket',
    'agape_queue_oldest_waiting_seconds',
    'agape_payments_stuck',
    'agape_jobs_total',
  ])
    t.ok(known.has(name), `the code exports ${name}`);

  const label = new Set(['queue', 'route']);
  for (const rule of rules)
    for (const name of metricNames(rule.expr))
      t.ok(known.has(name), `alert ${rule.alert}: ${name} is exported`);
  for (const expr of dashboardExprs)
    for (const name of metricNames(expr).filter((n) => !label.has(n)))
      t.ok(known.has(name), `dashboard: ${name} is exported`);
  t.notOk(known.has('agape_queue_depth'), 'a made-up name is not (the check can fail)');
});

t.test('the postgres_exporter queries run on the schema and yield their declared columns', async (t) => {
  const { config } = await testEnv(t);
  // A plain client: the exporter sees snake_case column names (the app's Kysely camel-cases them).
  const client = new pg.Client({ connectionString: config.DATABASE_URL });
  await client.connect();
  t.teardown(() => client.end());
  await client.query(
    `INSERT INTO payment_discrepancies (kind, reference) VALUES ('unknown_reference', 'ref-x'), ('amount_mismatch', 'ref-y')`,
  );
  await client.query(`INSERT INTO reconciliation_runs (trigger, status, window_from, window_to, finished_at)
            VALUES ('schedule', 'completed', now() - interval '2 days', now(), now() - interval '1 hour'),
                   ('manual', 'failed', now() - interval '2 days', now(), now())`);
  for (const [ns, q] of Object.entries(exporterQueries)) {
    const { rows } = await client.query<Record<string, unknown>>(q.query);
    t.ok(rows.length > 0, `${ns}: returns rows`);
    const declared = q.metrics.flatMap((m) => Object.keys(m)).sort();
    t.same(Object.keys(rows[0]).sort(), declared, `${ns}: columns are the declared metrics and labels`);
    for (const m of q.metrics)
      for (const [column, spec] of Object.entries(m)) {
        t.ok(['LABEL', 'GAUGE', 'COUNTER'].includes(spec.usage), `${ns}_${column}: usage ${spec.usage}`);
        if (spec.usage !== 'LABEL')
          t.ok(Number.isFinite(Number(rows[0][column])), `${ns}_${column} is a number`);
      }
  }
  const open = await client.query<{ open_discrepancies: string }>(exporterQueries.agape_reconciliation.query);
  t.equal(
    open.rows.reduce((n, r) => n + Number(r.open_discrepancies), 0),
    2,
    'both open discrepancies are counted',
  );
  const runs = await client.query<{ failed_last_day: string; last_completed_timestamp_seconds: string }>(
    exporterQueries.agape_reconciliation_runs.query,
  );
  t.equal(Number(runs.rows[0].failed_last_day), 1, 'the failed run of the last day');
  t.ok(
    Math.abs(Date.now() / 1000 - 3600 - Number(runs.rows[0].last_completed_timestamp_seconds)) < 60,
    'the completed run finished an hour ago',
  );
});
