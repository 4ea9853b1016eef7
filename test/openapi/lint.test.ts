/**
 * The OpenAPI document is a product client developers generate from: Redocly's recommended rules
 * (redocly.yaml: recommended-strict, exceptions in .redocly.lint-ignore.yaml) find no problem in it.
 * The same check as `npm run openapi:lint`, with the document built in this process.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { repoRoot } from '../../shared/config.js';
import { buildDocument } from '../../scripts/openapi.js';

interface LintReport {
  totals: { errors: number; warnings: number; ignored: number };
  problems: {
    ruleId: string;
    severity: string;
    message: string;
    location: { source: { ref: string }; pointer: string }[];
  }[];
}

const cli = path.join(
  path.dirname(createRequire(import.meta.url).resolve('@redocly/cli/package.json')),
  'bin/cli.js',
);

/** Lints documents beside a copy of the repository's Redocly configuration; one report per document. */
function lint(documents: Record<string, unknown>): LintReport[] {
  const dir = mkdtempSync(path.join(tmpdir(), 'agape-openapi-'));
  try {
    for (const file of ['redocly.yaml', '.redocly.lint-ignore.yaml'])
      copyFileSync(path.join(repoRoot, file), path.join(dir, file));
    for (const [name, doc] of Object.entries(documents))
      writeFileSync(path.join(dir, name), JSON.stringify(doc));
    const run = spawnSync(process.execPath, [cli, 'lint', ...Object.keys(documents), '--format=json'], {
      cwd: dir,
      encoding: 'utf8',
    });
    // One JSON object per document, back to back (`}{`).
    const reports = run.stdout.split(/(?<=^\})(?=\{)/m).map((part) => JSON.parse(part) as LintReport);
    if (reports.length !== Object.keys(documents).length)
      throw new Error(`redocly exited ${run.status}: ${run.stderr}`);
    return reports;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

t.test('Redocly finds no problem in the document the API serves', async (t) => {
  const document = (await buildDocument()) as {
    paths: Record<string, Record<string, { operationId?: string }>>;
  };
  // A copy with a defect, linted in the same run, shows the check can fail.
  const broken = structuredClone(document);
  delete broken.paths['/api/v1/checkout'].post.operationId;

  const [served, defective] = lint({ 'openapi.json': document, 'broken.json': broken });

  t.same(
    served.problems.map((p) => `${p.severity} ${p.ruleId} ${p.location[0]?.pointer}: ${p.message}`),
    [],
    'no problem in openapi.json',
  );
  t.equal(served.totals.ignored, 5, 'the listed exceptions are still needed (drop stale ones)');
  t.ok(
    defective.problems.some(
      (p) =>
        p.ruleId === 'operation-operationId' &&
        p.severity === 'error' &&
        p.location[0]?.pointer.startsWith('#/paths/~1api~1v1~1checkout/post'),
    ),
    'an operation without operationId is an error',
  );
});
