import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AudienceNotice } from '../../../shared/support/audience.js';
import { publishNotices } from '../../../shared/support/publish.js';
import type { Viewer } from '../../../shared/support/scope.js';

export const viewerOf = (request: FastifyRequest, side: Viewer['side']): Viewer => ({ id: request.auth!.id, role: request.auth!.role, side });

/** After the commit: live notices for sockets. Redis away loses a live update, never data (clients re-read). */
export async function publish(app: FastifyInstance, notices: readonly AudienceNotice[]): Promise<void> {
  if (!notices.length) return;
  await publishNotices(app.redis, app.config.QUEUE_PREFIX, notices).catch((err: unknown) => app.log.warn({ err }, 'support notices not published'));
}

export const bearer = [{ bearerAuth: [] }];

/** Per signed-in user (the auth hook runs first): a script with a stolen token cannot flood the inbox. */
export const perUser = (name: string, max: number, timeWindow: string) => ({
  max,
  timeWindow,
  keyGenerator: (request: FastifyRequest) => `support:${name}:${request.auth?.id ?? request.ip}`,
});
