/**
 * The layer boundaries in eslint.config.js (docs/architecture.md) bite: the `no-restricted-imports`
 * configured for a path in api/, worker/ or shared/ refuses the imports across layers and lets the
 * ordinary ones through; `import-x/no-cycle` refuses an import cycle; routes may not run SQL or open a
 * transaction. `npm run lint` applies the same configuration to every file.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ESLint, Linter } from 'eslint';
import t, { type Test } from 'tap';
import tseslint from 'typescript-eslint';
import { repoRoot } from '../../shared/config.js';

const eslint = new ESLint({ cwd: repoRoot });
const linter = new Linter({ configType: 'flat' });

/** The messages of the repository's import rule for `source` placed at `file`. */
async function refused(file: string, source: string): Promise<string[]> {
  const config = (await eslint.calculateConfigForFile(path.join(repoRoot, file))) as {
    rules?: Record<string, Linter.RuleEntry>;
  };
  const rule = config.rules?.['no-restricted-imports'];
  if (!rule) return [];
  return linter
    .verify(source, {
      languageOptions: { sourceType: 'module', ecmaVersion: 'latest' },
      rules: { 'no-restricted-imports': rule },
    })
    .map((m) => m.message);
}

t.test('shared/ never imports Fastify, api/ or worker/', async (t) => {
  const file = 'shared/orders/probe.ts';
  for (const source of [
    "import Fastify from 'fastify';",
    "import fp from 'fastify-plugin';",
    "import cors from '@fastify/cors';",
    "import { buildApp } from '../../api/app.js';",
    "import { startWorker } from '../../worker/main.js';",
  ]) {
    t.equal((await refused(file, source)).length, 1, source);
  }
  t.same(await refused(file, "import { sql } from 'kysely';\nimport { enqueue } from '../outbox.js';"), []);
});

t.test('api/ and worker/ never import each other', async (t) => {
  t.match(
    await refused('api/routes/probe.ts', "import { processors } from '../../worker/processors/index.js';"),
    [/never imports worker/],
  );
  t.match(await refused('worker/processors/probe.ts', "import { buildApp } from '../../api/app.js';"), [
    /never imports api/,
  ]);
  t.same(await refused('api/routes/probe.ts', "import { enqueue } from '../../shared/outbox.js';"), []);
  t.same(
    await refused('worker/processors/probe.ts', "import { enqueue } from '../../shared/outbox.js';"),
    [],
  );
});

t.test('tests and scripts may import every layer', async (t) => {
  const both =
    "import { buildApp } from '../../api/app.js';\nimport { startWorker } from '../../worker/main.js';";
  t.same(await refused('test/support/probe.ts', both), []);
});

/** The boundary rules; the type-aware ones are left out (probe files need no type information). */
const BOUNDARY_RULES = [
  'no-restricted-imports',
  'no-restricted-syntax',
  'import-x/no-cycle',
  'boundaries/no-domain-cycle',
];

/**
 * Writes probe files (paths relative to the repository), lints each with the boundary rules the
 * repository configures for its path (plugins and resolver settings included), then removes them.
 * Answers the rule ids reported per file.
 */
async function lintProbes(
  t: Test,
  files: Record<string, string>,
): Promise<Record<string, (string | null)[]>> {
  const found: Record<string, (string | null)[]> = {};
  // A probe is a file or a folder of its own named zz-probe-*: remove that, whichever it is.
  const probes = new Set(
    Object.keys(files).map((f) => path.join(repoRoot, f.replace(/(zz-probe-[^/]+).*$/, '$1'))),
  );
  t.teardown(() =>
    Promise.all([...probes].map((p) => rm(p, { force: true, recursive: true }))).then(() => undefined),
  );
  for (const [file, source] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(repoRoot, file)), { recursive: true });
    await writeFile(path.join(repoRoot, file), source);
  }
  for (const file of Object.keys(files)) {
    const config = (await eslint.calculateConfigForFile(path.join(repoRoot, file))) as {
      rules?: Record<string, Linter.RuleEntry>;
      plugins?: Record<string, ESLint.Plugin>;
      settings?: Record<string, unknown>;
    };
    const rules = Object.fromEntries(
      BOUNDARY_RULES.filter((r) => config.rules?.[r] !== undefined).map((r) => [r, config.rules![r]]),
    );
    const probe = new ESLint({
      cwd: repoRoot,
      overrideConfigFile: true,
      overrideConfig: {
        files: ['**/*.ts'],
        languageOptions: { parser: tseslint.parser, sourceType: 'module', ecmaVersion: 'latest' },
        plugins: Object.fromEntries(
          ['import-x', 'boundaries'].flatMap((p) => (config.plugins?.[p] ? [[p, config.plugins[p]]] : [])),
        ),
        settings: config.settings ?? {},
        rules,
      },
    });
    const [result] = await probe.lintFiles([path.join(repoRoot, file)]);
    found[file] = result.messages.map((m) => m.ruleId);
  }
  return found;
}

/** A folder name of its own per run, so a probe never meets a real module or another run's probe. */
const probeName = () => `zz-probe-${randomBytes(4).toString('hex')}`;

t.test('an import cycle between files fails the lint', async (t) => {
  const a = probeName();
  const found = await lintProbes(t, {
    [`shared/${a}/one.ts`]: "import { two } from './two.js';\nexport const one = () => two();\n",
    [`shared/${a}/two.ts`]: "import { one } from './one.js';\nexport const two = (): unknown => one;\n",
  });
  for (const [file, rules] of Object.entries(found))
    t.same(rules, ['import-x/no-cycle'], `${file} is in the cycle`);

  const c = probeName();
  const acyclic = await lintProbes(t, {
    [`shared/${c}/low.ts`]: 'export const low = 1;\n',
    [`shared/${c}/high.ts`]: "import { low } from './low.js';\nexport const high = low + 1;\n",
  });
  t.same(Object.values(acyclic), [[], []], 'imports in one direction pass');
});

t.test('two domains importing each other fail the lint, even through different files', async (t) => {
  const a = probeName();
  const b = probeName();
  const found = await lintProbes(t, {
    [`shared/${a}/lifecycle.ts`]: `import { refund } from '../${b}/refunds.js';\nexport const cancel = () => refund();\n`,
    [`shared/${a}/state.ts`]: 'export const transition = () => 1;\n',
    [`shared/${b}/refunds.ts`]: 'export const refund = () => 2;\n',
    [`shared/${b}/expiry.ts`]: `import { transition } from '../${a}/state.js';\nexport const expire = () => transition();\n`,
  });
  t.same(found[`shared/${a}/lifecycle.ts`], ['boundaries/no-domain-cycle']);
  t.same(found[`shared/${b}/expiry.ts`], ['boundaries/no-domain-cycle']);
  t.same(found[`shared/${a}/state.ts`], [], 'no file cycle: import-x alone would not see it');

  const c = probeName();
  const d = probeName();
  const oneWay = await lintProbes(t, {
    [`shared/${c}/mail.ts`]: 'export const send = () => 1;\n',
    [`shared/${d}/orders.ts`]: `import { send } from '../${c}/mail.js';\nexport const ship = () => send();\n`,
  });
  t.same(Object.values(oneWay), [[], []], 'a domain using a lower one passes');
});

t.test('a forbidden import fails the lint', async (t) => {
  const name = probeName();
  const found = await lintProbes(t, {
    [`shared/${name}/probe.ts`]: "import Fastify from 'fastify';\nexport const app = Fastify;\n",
    [`api/routes/${name}.ts`]: "import { sql } from 'kysely';\nexport const q = sql;\n",
    [`worker/${name}.ts`]: "import { buildApp } from '../api/app.js';\nexport const b = buildApp;\n",
  });
  for (const [file, rules] of Object.entries(found)) t.same(rules, ['no-restricted-imports'], file);
});

t.test('SQL or a transaction in a route fails the lint; calling a domain function passes', async (t) => {
  const name = probeName();
  const found = await lintProbes(t, {
    [`api/routes/${name}-select.ts`]:
      "export const list = (app: { db: any }) => app.db.selectFrom('orders').selectAll().execute();\n",
    [`api/routes/${name}-update.ts`]:
      "export const touch = (db: any) => db.updateTable('orders').set({ note: 'x' }).execute();\n",
    [`api/routes/${name}-trx.ts`]: 'export const run = (db: any, f: any) => db.transaction().execute(f);\n',
    [`api/routes/${name}-raw.ts`]: 'declare const sql: any;\nexport const q = sql`select 1`;\n',
    [`api/routes/${name}-ok.ts`]:
      "import { listOrders } from '../../shared/orders/read.js';\nexport const list = (db: any) => listOrders(db, { limit: 10 });\n",
  });
  t.same(found[`api/routes/${name}-select.ts`], ['no-restricted-syntax']);
  t.same(found[`api/routes/${name}-update.ts`], ['no-restricted-syntax']);
  t.same(found[`api/routes/${name}-trx.ts`], ['no-restricted-syntax']);
  t.same(found[`api/routes/${name}-raw.ts`], ['no-restricted-syntax']);
  t.same(found[`api/routes/${name}-ok.ts`], []);
});
