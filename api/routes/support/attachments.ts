import multipart from '@fastify/multipart';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { BadRequestError, DomainError, NotFoundError } from '../../../shared/errors.js';
import { privateFiles } from '../../../shared/media/files.js';
import { findAttachment, uploadAttachment } from '../../../shared/support/attachments.js';
import { Attachment, MAX_ATTACHMENT_BYTES } from '../../../shared/support/schemas.js';
import { readFileField } from '../../multipart-file.js';
import { IdParams, problemResponses } from '../../schemas.js';
import { bearer, perUser } from './common.js';
import { sendPrivateFile, signedUrlRedirect } from '../../private-file.js';

class AttachmentTooLargeError extends DomainError {
  constructor() {
    super(413, 'file_too_large', `Attachments may be at most ${MAX_ATTACHMENT_BYTES / 1024 / 1024} MB`);
  }
}

/** Private attachments: uploaded by a participant, served only to the conversation's participants. */
const supportAttachments: FastifyPluginAsyncTypebox = async (app) => {
  const files = await privateFiles(app.config);
  await app.register(multipart, { limits: { fileSize: MAX_ATTACHMENT_BYTES, files: 1, fields: 0, parts: 2 }, throwFileSizeLimit: true });

  app.post(
    '/support/attachments',
    {
      config: { auth: 'required', rateLimit: perUser('upload', 60, '10 minutes') },
      schema: {
        tags: ['support'],
        operationId: 'uploadSupportAttachment',
        summary: 'Upload a file for a message (multipart field `file`): PDF, JPEG, PNG, WebP, AVIF or GIF, at most 10 MB',
        description: 'Decided by the bytes. Private: it is served only to the uploader and, once a message carries it, to that conversation’s participants. Unattached uploads are deleted after a day.',
        security: bearer,
        consumes: ['multipart/form-data'],
        response: { 201: Attachment, ...problemResponses(400, 401, 413, 415, 422, 429) },
      },
    },
    async (request, reply) => {
      if (!request.isMultipart()) throw new BadRequestError('file_required', 'Send the file in the multipart field `file`');
      if (Number(request.headers['content-length'] ?? 0) > MAX_ATTACHMENT_BYTES + 64 * 1024) {
        reply.header('connection', 'close');
        throw new AttachmentTooLargeError();
      }
      const { bytes, filename } = await readFileField(request, () => new AttachmentTooLargeError(), 'file');
      return reply.code(201).send(await uploadAttachment(app.db, files, request.auth!.id, bytes, filename));
    },
  );

  app.get(
    '/support/attachments/:id',
    {
      config: { auth: 'required' },
      schema: {
        tags: ['support'],
        operationId: 'getSupportAttachment',
        summary: 'An attachment, for participants of its conversation only (others: 404)',
        security: bearer,
        params: IdParams,
        response: {
          200: { description: 'The file', content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } },
          302: signedUrlRedirect,
          ...problemResponses(401, 404),
        },
      },
    },
    async (request, reply) => {
      const a = await findAttachment(app.db, request.auth!, request.params.id);
      return sendPrivateFile(reply, files, app.config.MEDIA_URL_TTL_SECONDS, a, () => new NotFoundError('Attachment'));
    },
  );
};
export default supportAttachments;
