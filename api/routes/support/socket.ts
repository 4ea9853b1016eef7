import type { FastifyInstance } from 'fastify';
import { markRead } from '../../../shared/support/messages.js';
import { conversationAudience } from '../../../shared/support/notices.js';
import { TYPING_INTERVAL_MS } from '../../../shared/support/schemas.js';
import { conversationForUser } from '../../../shared/support/scope.js';
import { publish } from './common.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The support client messages on /api/v1/ws. Every one names a conversation and is checked against the
 * caller's scope (the same query the REST routes use); an id out of scope gets only
 * `{type: "error", data: {code: "not_found"}}`.
 */
export function registerSupportSocket(app: FastifyInstance) {
  const idOf = (data: Record<string, unknown>) => (typeof data.conversationId === 'string' && UUID.test(data.conversationId) ? data.conversationId : undefined);
  const notFound = { code: 'not_found' };

  app.realtime.handle('support.watch', async (ctx, data) => {
    const id = idOf(data);
    const found = id && (await conversationForUser(app.db, ctx.user, id));
    if (!id || !found) return ctx.send('error', notFound);
    ctx.watch(id);
    ctx.send('support.watching', { conversationId: id });
  });

  app.realtime.handle('support.unwatch', (ctx, data) => {
    const id = idOf(data);
    if (id) ctx.unwatch(id);
  });

  // Relayed to the conversation's watchers, never stored; at most once per TYPING_INTERVAL_MS per user and
  // conversation across every replica (a Redis key that expires).
  app.realtime.handle('support.typing', async (ctx, data) => {
    const id = idOf(data);
    const found = id && (await conversationForUser(app.db, ctx.user, id));
    if (!id || !found) return ctx.send('error', notFound);
    const first = await app.redis.set(`${app.config.QUEUE_PREFIX}:support:typing:${id}:${ctx.user.id}`, '1', 'PX', TYPING_INTERVAL_MS, 'NX');
    if (first !== 'OK') return;
    const { conversation, viewer } = found;
    await publish(app, [
      {
        type: 'support.typing',
        data: { conversationId: id, userId: ctx.user.id },
        // Staff typing a note is nobody's business but staff's; watchers only, never the typist.
        audience: { ...conversationAudience(conversation, viewer.side === 'staff' && data.kind === 'note' ? { kind: 'note' } : {}), direct: [], except: ctx.user.id },
      },
    ]);
  });

  app.realtime.handle('support.read', async (ctx, data) => {
    const id = idOf(data);
    const seq = typeof data.seq === 'number' && Number.isInteger(data.seq) && data.seq >= 0 ? data.seq : undefined;
    const found = id && (await conversationForUser(app.db, ctx.user, id));
    if (!id || !found) return ctx.send('error', notFound);
    if (seq === undefined || seq > found.conversation.lastSeq) return ctx.send('error', { code: 'validation_failed', conversationId: id });
    const { notices } = await markRead(app.db, found.viewer, id, seq);
    await publish(app, notices);
  });
}
