import { fanOut, purgeExpiredSessionDevices, purgeOldNotifications } from '../../shared/notifications/fanout.js';
import type { ProcessorDefinition } from '../context.js';

/** `notify.fanout`: one event → in-app rows, mail and push jobs (shared/notifications/fanout.ts). */
export const notifyProcessor: ProcessorDefinition<'notify'> = {
  concurrency: 8,
  handlers: {
    'notify.fanout': async (payload, { db }) => fanOut(db, payload),
    'notifications.cleanup': async (_payload, { db, config, log }) => {
      const deleted = await purgeOldNotifications(db, config.NOTIFICATION_RETENTION_DAYS);
      const devices = await purgeExpiredSessionDevices(db);
      if (deleted || devices) log.info({ deleted, devices }, 'old notifications and expired sessions’ devices deleted');
      return { deleted, devices };
    },
  },
};
