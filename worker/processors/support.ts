import { privateFiles } from '../../shared/media/files.js';
import { supportHousekeeping } from '../../shared/support/housekeeping.js';
import type { ProcessorDefinition } from '../context.js';

export const supportProcessor: ProcessorDefinition<'support'> = {
  concurrency: 1,
  handlers: {
    'support.housekeeping': async (_payload, { db, config, log }) => {
      const counts = await supportHousekeeping(db, await privateFiles(config));
      if (counts.closed || counts.purged) log.info(counts, 'support housekeeping');
      return counts;
    },
  },
};
