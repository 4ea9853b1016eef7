import type { Redis } from 'ioredis';
import { noticesChannel } from '../realtime/notices.js';
import type { AudienceNotice } from './audience.js';

/**
 * Publishes support notices on the websocket notices channel, after the transaction that made them
 * committed. Chat goes out at once (API → Redis → every replica), not through the outbox and a worker:
 * a notice lost with Redis costs a live update, never data (clients re-read by seq). One connection
 * publishes in order, so a reassignment published before a message reaches every hub before it.
 */
export async function publishNotices(redis: Pick<Redis, 'publish'>, prefix: string, notices: readonly AudienceNotice[]): Promise<void> {
  const at = new Date().toISOString();
  for (const n of notices) await redis.publish(noticesChannel({ QUEUE_PREFIX: prefix }), JSON.stringify({ type: n.type, data: n.data, audience: n.audience, at }));
}
