/**
 * The layer boundaries in eslint.config.js (docs/architecture.md) bite: the `no-restricted-imports`
 * configured for a path in api/, worker/ or shared/ refuses the imports across layers and lets the
 * ordinary ones through. `npm run lint` applies the same configuration to every file.
 */
import path from 'node:path';
import { ESLint, Linter } from 'eslint';
import t from 'tap';
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
