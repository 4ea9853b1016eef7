import { randomUUID } from 'node:crypto';
import { can, type Role } from '../auth/permissions.js';
import type { Db, DbOrTrx } from '../db/index.js';
import { NotFoundError } from '../errors.js';
import type { PrivateFiles } from '../media/files.js';
import { inspectImage } from '../media/inspect.js';
import { UNATTACHED_PHOTO_HOURS } from './schemas.js';

const extensions: Record<string, string> = {
  'image/jpeg': 'jpg',
  'image/png': 'png',
  'image/webp': 'webp',
  'image/avif': 'avif',
  'image/gif': 'gif',
};

const cleanName = (name: string | undefined, ext: string) => {
  const base = (name ?? '').replace(/[^A-Za-z0-9._ -]/g, '').trim().slice(0, 100);
  return base || `photo.${ext}`;
};

/**
 * A photo for a return, under the media rules (an image by its bytes: type, size, pixel bombs), stored
 * privately and recorded as the uploader's, unattached until a return request names it.
 */
export async function uploadReturnPhoto(db: Db, files: PrivateFiles, uploaderId: string, bytes: Buffer, filename?: string) {
  const { mime } = await inspectImage(bytes);
  const ext = extensions[mime] ?? 'bin';
  const id = randomUUID();
  const key = `returns/${new Date().getUTCFullYear()}/${id}.${ext}`;
  await files.put(key, bytes);
  const row = await db
    .insertInto('returnAttachments')
    .values({ id, uploaderId, key, mime, size: bytes.length, filename: cleanName(filename, ext) })
    .returning(['id', 'filename', 'mime', 'size', 'createdAt'])
    .executeTakeFirstOrThrow();
  return { ...row, createdAt: row.createdAt.toISOString() };
}

/** A photo for its uploader, or for staff with `return:read` once a return carries it; others 404. */
export async function findReturnPhoto(db: DbOrTrx, user: { id: string; role: Role }, id: string) {
  const row = await db
    .selectFrom('returnAttachments')
    .select(['id', 'key', 'mime', 'filename', 'uploaderId', 'returnId'])
    .where('id', '=', id)
    .executeTakeFirst();
  if (!row || (row.uploaderId !== user.id && !(row.returnId && can(user.role, 'return:read')))) throw new NotFoundError('Photo');
  return row;
}

/** Photos no return named within a day: rows and files go (the hourly returns job). */
export async function purgeUnattachedPhotos(db: Db, files: PrivateFiles, limit = 500): Promise<number> {
  const cutoff = new Date(Date.now() - UNATTACHED_PHOTO_HOURS * 3600_000);
  const rows = await db
    .deleteFrom('returnAttachments')
    .where('id', 'in', (qb) =>
      qb.selectFrom('returnAttachments').select('id').where('returnId', 'is', null).where('createdAt', '<', cutoff).limit(limit),
    )
    .where('returnId', 'is', null)
    .returning('key')
    .execute();
  // After the rows are gone: a file without a row is harmless, a row without a file would 404 on read.
  for (const r of rows) await files.delete(r.key);
  return rows.length;
}
