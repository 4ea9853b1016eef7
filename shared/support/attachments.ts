import { randomUUID } from 'node:crypto';
import { can } from '../auth/permissions.js';
import type { Db, DbOrTrx, Trx } from '../db/index.js';
import { NotFoundError, ValidationError } from '../errors.js';
import type { PrivateFiles } from '../media/files.js';
import { inspectImage, UnsupportedMediaTypeError } from '../media/inspect.js';
import { conversationsInScope, visibleKinds, type Viewer } from './scope.js';
import { UNATTACHED_UPLOAD_HOURS } from './schemas.js';
import { attachmentView } from './views.js';

const extensions: Record<string, string> = {
  'application/pdf': 'pdf',
  'image/jpeg': 'jpg',
  'image/png': 'png',
  'image/webp': 'webp',
  'image/avif': 'avif',
  'image/gif': 'gif',
};

/** What a file is, by its bytes: a PDF, or an image under the media rules (type, size, pixel bombs). */
async function inspectAttachment(bytes: Buffer): Promise<string> {
  // Loaded on first use, like the image inspection's.
  const { fileTypeFromBuffer } = await import('file-type');
  const type = await fileTypeFromBuffer(bytes);
  if (type?.mime === 'application/pdf') return type.mime;
  try {
    return (await inspectImage(bytes)).mime;
  } catch (err) {
    if (err instanceof UnsupportedMediaTypeError) throw new UnsupportedMediaTypeError('Only PDF, JPEG, PNG, WebP, AVIF and GIF files are accepted');
    throw err;
  }
}

const cleanName = (name: string | undefined, ext: string) => {
  const base = (name ?? '').replace(/[^A-Za-z0-9._ -]/g, '').trim().slice(0, 100);
  return base || `attachment.${ext}`;
};

/**
 * Stores an upload privately (never a public URL) and records it as the uploader's, unattached: it
 * becomes visible to others only once a message carries it; unattached uploads are purged after a day.
 */
export async function uploadAttachment(db: Db, files: PrivateFiles, uploaderId: string, bytes: Buffer, filename?: string) {
  const mime = await inspectAttachment(bytes);
  const ext = extensions[mime] ?? 'bin';
  const id = randomUUID();
  const key = `support/${new Date().getUTCFullYear()}/${id}.${ext}`;
  await files.put(key, bytes);
  const row = await db
    .insertInto('supportAttachments')
    .values({ id, uploaderId, key, mime, size: bytes.length, filename: cleanName(filename, ext) })
    .returning(['id', 'filename', 'mime', 'size', 'createdAt'])
    .executeTakeFirstOrThrow();
  return attachmentView(row);
}

/** Binds the uploader's own unattached uploads to a new message; any other id is a 400 and nothing changes. */
export async function attachUploads(trx: Trx, uploaderId: string, conversationId: string, messageId: string, ids: readonly string[] | undefined) {
  if (!ids?.length) return;
  const bound = await trx
    .updateTable('supportAttachments')
    .set({ conversationId, messageId })
    .where('id', 'in', ids)
    .where('uploaderId', '=', uploaderId)
    .where('messageId', 'is', null)
    .returning('id')
    .execute();
  if (bound.length !== ids.length) {
    throw new ValidationError('Some attachments are unknown, not yours, or already used', [
      { path: '/attachmentIds', message: 'must name your own uploads not yet attached' },
    ]);
  }
}

/**
 * An attachment for a participant: its uploader, or someone whose scope holds its conversation (staff
 * through the staff scope; the customer only for messages, never notes). Everyone else: 404.
 */
export async function findAttachment(db: DbOrTrx, user: { id: string; role: Viewer['role'] }, id: string) {
  const row = await db
    .selectFrom('supportAttachments as a')
    .leftJoin('supportMessages as m', 'm.id', 'a.messageId')
    .select(['a.id', 'a.key', 'a.mime', 'a.filename', 'a.uploaderId', 'a.conversationId', 'm.kind'])
    .where('a.id', '=', id)
    .executeTakeFirst();
  if (!row) throw new NotFoundError('Attachment');
  if (row.uploaderId === user.id) return row;
  if (row.conversationId && row.kind) {
    const sides: Viewer[] = [{ ...user, side: 'customer' }];
    if (can(user.role, 'support:read')) sides.push({ ...user, side: 'staff' });
    for (const viewer of sides) {
      if (!visibleKinds(viewer).includes(row.kind)) continue;
      const inScope = await conversationsInScope(db, viewer).select('c.id').where('c.id', '=', row.conversationId).executeTakeFirst();
      if (inScope) return row;
    }
  }
  throw new NotFoundError('Attachment');
}

/** Uploads nobody attached within a day: rows and files go. */
export async function purgeUnattachedUploads(db: Db, files: PrivateFiles, limit = 500): Promise<number> {
  const rows = await db
    .deleteFrom('supportAttachments')
    .where('messageId', 'is', null)
    .where('createdAt', '<', new Date(Date.now() - UNATTACHED_UPLOAD_HOURS * 3600_000))
    .where('id', 'in', (qb) =>
      qb
        .selectFrom('supportAttachments')
        .select('id')
        .where('messageId', 'is', null)
        .where('createdAt', '<', new Date(Date.now() - UNATTACHED_UPLOAD_HOURS * 3600_000))
        .limit(limit),
    )
    .returning('key')
    .execute();
  // After the rows are gone: a file without a row is harmless, a row without a file would 404 on read.
  for (const r of rows) await files.delete(r.key);
  return rows.length;
}
