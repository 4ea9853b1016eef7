import type { FastifyRequest } from 'fastify';
import { BadRequestError } from '../shared/errors.js';

/** Collects a file part, failing the moment the size limit is reached (not when the part ends). */
function readLimited(file: NodeJS.ReadableStream, tooLarge: () => Error): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    file.on('data', (chunk: Buffer) => chunks.push(chunk));
    file.once('limit', () => reject(tooLarge()));
    file.once('end', () => resolve(Buffer.concat(chunks)));
    file.once('error', reject);
  });
}

/**
 * The one upload of a multipart request, from its field `file` (other file parts are drained unread).
 * `tooLarge` is the 413 of the route's limit; `noun` names the upload in the 400 when it is missing.
 */
export async function readFileField(request: FastifyRequest, tooLarge: () => Error, noun: string): Promise<{ bytes: Buffer; filename?: string }> {
  const missing = `Send the ${noun} in the multipart field \`file\``;
  if (!request.isMultipart()) throw new BadRequestError('file_required', missing);
  let bytes: Buffer | undefined;
  let filename: string | undefined;
  try {
    for await (const part of request.parts()) {
      if (part.type !== 'file') continue;
      if (part.fieldname !== 'file' || bytes) {
        part.file.resume();
        continue;
      }
      filename = part.filename;
      bytes = await readLimited(part.file, tooLarge);
    }
  } catch (err) {
    if ((err as { code?: string }).code === 'FST_REQ_FILE_TOO_LARGE') throw tooLarge();
    throw err;
  }
  if (!bytes?.length) throw new BadRequestError('file_required', missing, [{ path: '/file', message: 'is required' }]);
  return { bytes, filename };
}
