import multipart from '@fastify/multipart';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { Value } from 'typebox/value';
import type { CatalogWrites } from '../../../shared/catalog/writes.js';
import { BadRequestError, DomainError, UnauthorizedError } from '../../../shared/errors.js';
import { FileTooLargeError, MAX_IMAGE_BYTES } from '../../../shared/media/inspect.js';
import { IdParams, problemResponses, Uuid } from '../../schemas.js';
import { Image } from '../../../shared/catalog/schemas.js';

const staffOnly = { permission: 'product:write' as const };
const bearer = [{ bearerAuth: [] }];
/** Room for the multipart framing and a short alt text around a file at the limit. */
const ENVELOPE_BYTES = 64 * 1024;

const DirectUpload = Type.Object(
  {
    publicId: Type.String({ minLength: 1, maxLength: 255 }),
    version: Type.String({ pattern: '^[0-9]{1,20}$' }),
    signature: Type.String({ pattern: '^[0-9a-f]{40}$' }),
    alt: Type.Optional(Type.String({ maxLength: 300 })),
  },
  { additionalProperties: false },
);

/**
 * Refuses an oversized upload and closes the connection, so the rest of the body is never read
 * (the client learns at once instead of after sending 100 MB).
 */
function tooLarge(request: FastifyRequest, reply: FastifyReply): never {
  // Stop reading: no more bytes are pulled off the socket (TCP pushes back on the sender).
  request.raw.unpipe();
  request.raw.pause();
  reply.header('connection', 'close');
  throw new FileTooLargeError();
}

/** Collects a file part, failing the moment the size limit is reached (not when the part ends). */
function readLimited(file: NodeJS.ReadableStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    file.on('data', (chunk: Buffer) => chunks.push(chunk));
    file.once('limit', () => reject(new FileTooLargeError()));
    file.once('end', () => resolve(Buffer.concat(chunks)));
    file.once('error', reject);
  });
}

async function readUpload(request: FastifyRequest, reply: FastifyReply): Promise<{ bytes: Buffer; alt: string }> {
  const declared = Number(request.headers['content-length'] ?? 0);
  if (declared > MAX_IMAGE_BYTES + ENVELOPE_BYTES) tooLarge(request, reply);
  let bytes: Buffer | undefined;
  let alt = '';
  try {
    for await (const part of request.parts()) {
      if (part.type === 'file') {
        if (part.fieldname !== 'file' || bytes) {
          part.file.resume();
          continue;
        }
        bytes = await readLimited(part.file);
      } else if (part.fieldname === 'alt' && typeof part.value === 'string') {
        alt = part.value.slice(0, 300);
      }
    }
  } catch (err) {
    if (err instanceof FileTooLargeError || (err as { code?: string }).code === 'FST_REQ_FILE_TOO_LARGE') tooLarge(request, reply);
    throw err;
  }
  if (!bytes?.length) throw new BadRequestError('file_required', 'Send the image in the multipart field `file`', [{ path: '/file', message: 'is required' }]);
  return { bytes, alt };
}

const images: FastifyPluginAsyncTypebox<{ writes: CatalogWrites }> = async (app, { writes }) => {
  // Multipart lives in this scope only: no other route accepts uploads.
  await app.register(multipart, {
    limits: { fileSize: MAX_IMAGE_BYTES, files: 1, fields: 5, fieldSize: 4_096, parts: 10 },
    throwFileSizeLimit: true,
  });

  app.post(
    '/products/:id/images',
    {
      config: staffOnly,
      schema: {
        tags: ['catalog'],
        operationId: 'uploadProductImage',
        summary: 'Upload an image (multipart field `file`, optional `alt`); or attach a signed direct upload (JSON)',
        description: 'JPEG, PNG, WebP, AVIF or GIF, decided by the bytes; at most 10 MB.',
        security: bearer,
        consumes: ['multipart/form-data', 'application/json'],
        params: IdParams,
        response: { 201: Image, ...problemResponses(400, 401, 403, 404, 413, 415, 422) },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      if (!request.isMultipart()) {
        const body = request.body;
        if (!Value.Check(DirectUpload, body)) throw new BadRequestError('file_required', 'Send a multipart upload with the field `file`');
        const image = await writes.attachUploadedImage(id, body, request.auth?.id ?? null);
        if (!image) throw new UnauthorizedError('invalid_signature', 'The upload signature does not match');
        return reply.code(201).send(image);
      }
      const { bytes, alt } = await readUpload(request, reply);
      const image = await writes.addProductImage(id, bytes, alt, request.auth?.id ?? null);
      return reply.code(201).send(image);
    },
  );

  app.patch(
    '/products/:id/images/:imageId',
    {
      config: staffOnly,
      schema: {
        tags: ['catalog'],
        operationId: 'updateProductImage',
        summary: 'Change alt text or move an image (position 0 is the one list pages show)',
        security: bearer,
        params: Type.Object({ id: Uuid, imageId: Uuid }),
        body: Type.Object(
          { alt: Type.Optional(Type.String({ maxLength: 300 })), position: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000 })) },
          { additionalProperties: false, minProperties: 1 },
        ),
        response: { 200: Image, ...problemResponses(400, 401, 403, 404) },
      },
    },
    async (request) => writes.updateProductImage(request.params.id, request.params.imageId, request.body, request.auth?.id ?? null),
  );

  app.delete(
    '/products/:id/images/:imageId',
    {
      config: staffOnly,
      schema: {
        tags: ['catalog'],
        operationId: 'deleteProductImage',
        summary: 'Delete an image, from the media host too',
        security: bearer,
        params: Type.Object({ id: Uuid, imageId: Uuid }),
        response: { 204: Type.Null(), ...problemResponses(401, 403, 404) },
      },
    },
    async (request, reply) => {
      await writes.deleteProductImage(request.params.id, request.params.imageId, request.auth?.id ?? null);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/media/signature',
    {
      config: staffOnly,
      schema: {
        tags: ['catalog'],
        operationId: 'createMediaSignature',
        summary: 'Signed parameters for a direct browser upload to the media host (Cloudinary only)',
        security: bearer,
        body: Type.Optional(Type.Object({ productId: Type.Optional(Uuid) }, { additionalProperties: false })),
        response: {
          200: Type.Object({
            uploadUrl: Type.String(),
            cloudName: Type.String(),
            apiKey: Type.String(),
            timestamp: Type.Integer(),
            signature: Type.String(),
            folder: Type.String(),
            fields: Type.Record(Type.String(), Type.String()),
          }),
          ...problemResponses(400, 401, 403, 501),
        },
      },
    },
    async (request) => {
      if (!app.media.signUpload) throw new DomainError(501, 'not_supported', 'Direct uploads need a media host (set CLOUDINARY_URL)');
      const productId = request.body?.productId;
      return app.media.signUpload(productId ? `products/${productId}` : 'products/direct');
    },
  );
};

export default images;
