/**
 * `npm run seed [-- --flag value ...]`: runs the seed steps below, in order, against DATABASE_URL.
 * Every step is idempotent (safe to run on every `npm run dev`): it checks before it inserts, or
 * upserts. Steps receive the command-line arguments, e.g. `npm run seed -- --products 10000`.
 *
 * To add a step: one import and one entry in `steps`, where its order matters (admin before catalog...).
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SeedRefusal, seedAdmin } from '../shared/auth/seed.js';
import { seedCatalog } from '../shared/catalog/demo.js';
import { seedReviews } from '../shared/reviews/demo.js';
import { seedShipping } from '../shared/shipping/seed.js';
import { loadConfigOrExit, type Config } from '../shared/config.js';
import { createDb, type Db } from '../shared/db/index.js';
import { assertMigrationsCurrent } from '../shared/db/migrate.js';

export interface SeedContext {
  db: Db;
  config: Config;
  log: (message: string) => void;
  /** Arguments after `--`, e.g. ['--products', '10000']; read them with `argValue`. */
  args: string[];
}

export interface SeedStep {
  name: string;
  run(ctx: SeedContext): Promise<void>;
}

export const steps: SeedStep[] = [
  { name: 'admin user', run: seedAdmin },
  { name: 'demo catalog', run: seedCatalog },
  { name: 'shipping methods', run: seedShipping },
  { name: 'demo reviews', run: seedReviews },
];

/** `--name value` or `--name=value` from the seed arguments; undefined when absent. */
export function argValue(args: readonly string[], name: string): string | undefined {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === `--${name}`) return args[i + 1];
    if (args[i].startsWith(`--${name}=`)) return args[i].slice(name.length + 3);
  }
  return undefined;
}

export class SeedStepError extends Error {
  constructor(
    readonly step: string,
    cause: unknown,
  ) {
    super(`seed step "${step}" failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'SeedStepError';
  }
}

export interface RunSeedOptions {
  /**
   * A step that refused (a `SeedRefusal`: nothing changed, e.g. ADMIN_EMAIL is someone else's account):
   * given this, the run reports it here and goes on (`npm run dev`); without, it stops like a failure.
   */
  onRefusal?: (message: string) => void;
}

/** Runs the steps in order; the first failure stops the run and names its step. */
export async function runSeed(ctx: SeedContext, list: readonly SeedStep[] = steps, opts: RunSeedOptions = {}): Promise<void> {
  if (!list.length) {
    ctx.log('seed: no steps yet');
    return;
  }
  for (const step of list) {
    const started = Date.now();
    try {
      await step.run({ ...ctx, log: (message) => ctx.log(`seed ${step.name}: ${message}`) });
    } catch (err) {
      if (err instanceof SeedRefusal && opts.onRefusal) {
        opts.onRefusal(`seed ${step.name} refused: ${err.message}`);
        continue;
      }
      throw new SeedStepError(step.name, err);
    }
    ctx.log(`seed ${step.name}: done in ${Date.now() - started} ms`);
  }
}

/** True when this module is the process entry point (tsx, or node on the built file). */
function isEntryPoint(moduleUrl: string): boolean {
  if (!process.argv[1]) return false;
  try {
    return realpathSync(process.argv[1]) === realpathSync(fileURLToPath(moduleUrl));
  } catch {
    return false;
  }
}

if (isEntryPoint(import.meta.url)) {
  const config = loadConfigOrExit();
  const db = createDb(config.DATABASE_URL, { poolSize: 4, applicationName: 'agape-seed' });
  try {
    await assertMigrationsCurrent(db);
    await runSeed({ db, config, log: (m) => console.log(m), args: process.argv.slice(2) });
  } catch (err) {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  } finally {
    await db.destroy();
  }
}
