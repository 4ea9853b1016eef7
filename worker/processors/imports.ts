import { catalogChanged } from '../../shared/catalog/cache.js';
import { runImport } from '../../shared/catalog/import-job.js';
import { privateFiles } from '../../shared/media/files.js';
import type { ProcessorDefinition } from '../context.js';

/** `import.products`: the same streaming import as `npm run import:products`, progress on the imports row. */
export const importsProcessor: ProcessorDefinition<'imports'> = {
  // Imports are long and write a lot: one at a time per worker keeps the pool free for other queues.
  concurrency: 1,
  handlers: {
    'import.products': async ({ importId }, { db, redis, config, log }) => {
      const result = await runImport(db, importId, await privateFiles(config));
      await catalogChanged(redis, config.QUEUE_PREFIX);
      log.info(
        { importId, processedRows: result?.processedRows, created: result?.productsCreated, updated: result?.productsUpdated, errors: result?.errors.length },
        'product import finished',
      );
      return { processedRows: result?.processedRows ?? 0 };
    },
  },
};
