import type { Trx } from '../db/index.js';
import { enqueue } from '../outbox.js';
import type { NotificationEvent } from './schemas.js';

/**
 * The one way a domain tells people something happened: inside the transaction of the change, an
 * outbox row for `notify.fanout`, which turns it into in-app rows, mail and push per recipient and per
 * preference (shared/notifications/fanout.ts). Receipts and security mail are not notifications: they
 * are sent with enqueueMail directly and ignore preferences.
 */
export function emitNotification(trx: Trx, event: NotificationEvent): Promise<string> {
  return enqueue(trx, 'notify.fanout', event);
}
