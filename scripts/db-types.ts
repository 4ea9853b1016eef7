/**
 * Regenerates shared/db/types.ts from the migrations: migrates a scratch database, runs kysely-codegen
 * against it, drops it. Enumerated text columns get their union types (scripts/enum-columns.ts). Never touches the development database.
 *   npm run db:types            write the file
 *   npm run db:types -- --verify  fail if the file is out of date
 */
import { execFileSync } from 'node:child_process';
import { repoRoot } from '../shared/config.js';
import { codegenOverrides } from './enum-columns.js';
import { withScratchDatabase } from './scratch-database.js';

// Enumerated text columns are typed as their status/kind unions (scripts/enum-columns.ts), so code reads
// and writes them without casts.
const { overrides, imports } = codegenOverrides();

await withScratchDatabase('agape_codegen', async (url) => {
  execFileSync(
    'npx',
    [
      'kysely-codegen',
      '--dialect',
      'postgres',
      '--url',
      url,
      '--camel-case',
      '--numeric-parser',
      'number',
      '--type-mapping',
      '{"int8":"number"}',
      '--overrides',
      JSON.stringify(overrides),
      '--custom-imports',
      JSON.stringify(imports),
      '--exclude-pattern',
      'kysely_*',
      '--out-file',
      'shared/db/types.ts',
      ...(process.argv.includes('--verify') ? ['--verify'] : []),
    ],
    { cwd: repoRoot, stdio: 'inherit' },
  );
});
