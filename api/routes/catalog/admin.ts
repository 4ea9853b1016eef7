import multipart from '@fastify/multipart';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Type } from 'typebox';
import { acceptImport, getImport } from '../../../shared/catalog/import-job.js';
import { BadRequestError, DomainError, NotFoundError } from '../../../shared/errors.js';
import { privateFiles } from '../../../shared/media/files.js';
import { IdParams, problemResponses } from '../../schemas.js';
import { ImportView } from '../../../shared/catalog/schemas.js';

const MAX_IMPORT_BYTES = 200 * 1024 * 1024;
const staffOnly = { permission: 'product:write' as const };
const bearer = [{ bearerAuth: [] }];

/** Shopify CSV import (a worker job) and export (streamed). */
const admin: FastifyPluginAsyncTypebox = async (app) => {
  await app.register(multipart, { limits: { fileSize: MAX_IMPORT_BYTES, files: 1, fields: 2, parts: 4 }, throwFileSizeLimit: true });

  app.post(
    '/admin/imports',
    {
      config: staffOnly,
      schema: {
        tags: ['catalog'],
        operationId: 'adminImportProducts',
        summary: 'Upload a Shopify product CSV (multipart field `file`); imported by a worker job',
        security: bearer,
        consumes: ['multipart/form-data'],
        response: { 202: ImportView, ...problemResponses(400, 401, 403, 413) },
      },
    },
    async (request, reply) => {
      if (!request.isMultipart()) throw new BadRequestError('file_required', 'Send the CSV in the multipart field `file`');
      const part = await request.file();
      if (!part || part.fieldname !== 'file') throw new BadRequestError('file_required', 'Send the CSV in the multipart field `file`');
      // Spooled on this replica's own disk first: the size limit is enforced while streaming.
      const spool = path.join(tmpdir(), `agape-upload-${randomUUID()}.csv`);
      let view;
      try {
        await pipeline(part.file, createWriteStream(spool));
        if (part.file.truncated) throw new DomainError(413, 'file_too_large', `Imports may be at most ${MAX_IMPORT_BYTES / 1024 / 1024} MB`);
        const upload = { filename: part.filename || 'products.csv', localPath: spool };
        view = await acceptImport(app.db, await privateFiles(app.config), upload, request.auth?.id ?? null);
      } catch (err) {
        if ((err as { code?: string }).code === 'FST_REQ_FILE_TOO_LARGE') {
          reply.header('connection', 'close');
          throw new DomainError(413, 'file_too_large', `Imports may be at most ${MAX_IMPORT_BYTES / 1024 / 1024} MB`);
        }
        throw err;
      } finally {
        await rm(spool, { force: true });
      }
      return reply.code(202).header('location', `/api/v1/admin/imports/${view.id}`).send(view);
    },
  );

  app.get(
    '/admin/imports/:id',
    {
      config: staffOnly,
      schema: {
        tags: ['catalog'],
        operationId: 'adminGetProductImport',
        summary: "An import's status, progress and row errors (line numbers and reasons)",
        security: bearer,
        params: IdParams,
        response: { 200: ImportView, ...problemResponses(401, 403, 404) },
      },
    },
    async (request) => {
      const view = await getImport(app.db, request.params.id);
      if (!view) throw new NotFoundError('Import');
      return view;
    },
  );

  app.get(
    '/admin/exports/products.csv',
    {
      config: staffOnly,
      schema: {
        tags: ['catalog'],
        operationId: 'adminExportProductsCsv',
        summary: 'The whole catalog as a Shopify product CSV (streamed)',
        security: bearer,
        produces: ['text/csv'],
        response: { 200: Type.String(), ...problemResponses(401, 403) },
      },
    },
    async (_request, reply) => {
      reply
        .type('text/csv; charset=utf-8')
        .header('content-disposition', 'attachment; filename="products.csv"')
        .header('cache-control', 'no-store');
      // Loaded on first use (with csv-stringify): a process that never exports does not carry it.
      const { exportProductsCsv } = await import('../../../shared/catalog/csv/export.js');
      return reply.send(exportProductsCsv(app.db, { publicUrl: app.config.PUBLIC_URL }) as never);
    },
  );
};

export default admin;
