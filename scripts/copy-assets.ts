/**
 * `npm run build` step 2: tsc emits only JavaScript, but modules also read files beside them at run time
 * (e.g. shared/auth/common-passwords.txt). Copies every non-TypeScript file of the built folders into
 * the output, same relative path. `tsx scripts/copy-assets.ts [outDir]` (default dist).
 */
import { cpSync, existsSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../shared/config.js';

const outDir = path.resolve(repoRoot, process.argv[2] ?? 'dist');
for (const folder of ['api', 'worker', 'shared', 'migrations', 'scripts']) {
  const from = path.join(repoRoot, folder);
  if (!existsSync(from)) continue;
  cpSync(from, path.join(outDir, folder), {
    recursive: true,
    filter: (src) => !/\.(ts|mts|cts)$/.test(src),
  });
}
