import type { Redis } from 'ioredis';
import type { Config } from '../config.js';
import type { JobPayload } from '../queues.js';

/**
 * The websocket notice channel: the worker publishes (`system.notify`), every API replica subscribes and
 * fans out to its sockets (api/plugins/realtime.ts). Both sides take the channel name and the message
 * shape from here, so they cannot drift apart.
 */

/** What travels on the channel: the `system.notify` payload stamped with the time it was published. */
export type Notice = JobPayload<'system.notify'> & { at: string };

export const noticesChannel = (config: Pick<Config, 'QUEUE_PREFIX'>) => `${config.QUEUE_PREFIX}:notices`;

export async function publishNotice(
  redis: Pick<Redis, 'publish'>,
  config: Pick<Config, 'QUEUE_PREFIX'>,
  notice: JobPayload<'system.notify'>,
  at: Date = new Date(),
): Promise<void> {
  const message: Notice = { ...notice, at: at.toISOString() };
  await redis.publish(noticesChannel(config), JSON.stringify(message));
}

/** A message read off the channel, or null when it is not a notice (the subscriber logs and drops it). */
export function parseNotice(message: string): Notice | null {
  const value: unknown = JSON.parse(message);
  if (!value || typeof value !== 'object') return null;
  const notice = value as Partial<Notice>;
  return typeof notice.type === 'string' ? (notice as Notice) : null;
}
