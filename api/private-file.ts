import type { FastifyReply } from 'fastify';
import type { PrivateFiles } from '../shared/media/files.js';

/** The 302 of a route that serves a private file: the media host's signed URL. */
export const signedUrlRedirect = {
  description: 'A signed media-host URL that expires in minutes',
  headers: { location: { type: 'string' } },
} as const;

export interface PrivateFileAnswer {
  key: string;
  /** The `content-type` of the bytes. */
  mime: string;
  /** Sent as an attachment under this name (quotes dropped); inline without it. */
  filename?: string;
}

/**
 * Answers with a private stored file: never cached; on a media host a redirect to a signed URL that dies
 * in minutes (signed anew per request, so a leaked link stops working soon), on local disk the stream.
 * `missing` is the route's error when the local file is not there.
 */
export async function sendPrivateFile(
  reply: FastifyReply,
  files: PrivateFiles,
  ttlSeconds: number,
  file: PrivateFileAnswer,
  missing: () => Error,
): Promise<FastifyReply> {
  reply.header('cache-control', 'private, no-store');
  if (files.signedUrl) return reply.redirect(files.signedUrl(file.key, { ttlSeconds }), 302);
  const stream = await files.stream?.(file.key);
  if (!stream) throw missing();
  reply.header('content-type', file.mime);
  if (file.filename !== undefined) reply.header('content-disposition', `attachment; filename="${file.filename.replace(/"/g, '')}"`);
  // The declared 200 schema is binary; the TypeBox provider only knows JSON bodies.
  return reply.header('x-content-type-options', 'nosniff').send(stream);
}
