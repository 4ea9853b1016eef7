import { privateFiles } from '../../shared/media/files.js';
import { purgeUnattachedPhotos } from '../../shared/returns/attachments.js';
import { expireReturns } from '../../shared/returns/staff.js';
import type { ProcessorDefinition } from '../context.js';

export const returnsExpireProcessor: ProcessorDefinition<'returns-expire'> = {
  concurrency: 1,
  handlers: {
    'returns.expire': async (_payload, { db, config, log }) => {
      let expired = 0;
      // Batches until none is due, so a backlog clears in one run.
      for (let n = await expireReturns(db); n > 0; n = await expireReturns(db)) expired += n;
      const purged = await purgeUnattachedPhotos(db, await privateFiles(config));
      if (expired || purged) log.info({ expired, purged }, 'returns housekeeping');
      return { expired, purged };
    },
  },
};
