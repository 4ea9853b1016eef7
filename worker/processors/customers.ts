import { purgeGuestCarts, sendCartReminders } from '../../shared/customers/carts.js';
import { purgeExpiredExports, runDataExport } from '../../shared/customers/data-export.js';
import { privateFiles } from '../../shared/media/files.js';
import type { ProcessorDefinition } from '../context.js';

export const customersProcessor: ProcessorDefinition<'customers'> = {
  concurrency: 2,
  handlers: {
    'customers.housekeeping': async (_payload, { db, config, log }) => {
      const reminded = await sendCartReminders(db, config);
      const guestCartsDeleted = await purgeGuestCarts(db, config.CART_TTL_DAYS);
      const exportsDeleted = await purgeExpiredExports(db, await privateFiles(config));
      const counts = { reminded, guestCartsDeleted, exportsDeleted };
      if (reminded || guestCartsDeleted || exportsDeleted) log.info(counts, 'customers housekeeping');
      return counts;
    },
    'customers.data-export': async ({ exportId }, { db, config }) => runDataExport(db, await privateFiles(config), config, exportId),
    'customers.withdraw-mail': async ({ jobIds }, { db, config, queues }) => {
      let removed = 0;
      for (const id of jobIds) {
        const job = await queues.email.getJob(id);
        // An active job is being sent this instant: nothing can stop it any more.
        if (job && (await job.getState()) !== 'active') {
          await job.remove();
          removed++;
        }
      }
      const exportsDeleted = await purgeExpiredExports(db, await privateFiles(config));
      return { removed, exportsDeleted };
    },
  },
};
