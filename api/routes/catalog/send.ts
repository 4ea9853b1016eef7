import type { FastifyReply, FastifyRequest } from 'fastify';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { CachedBody } from '../../../shared/catalog/cache.js';
import { JSON_TYPE } from '../../schemas.js';

const gzipAsync = promisify(gzip);

/** Bodies at least this large are gzipped for clients that ask; the hot small pages go as they are. */
export const COMPRESS_MIN_BYTES = 8 * 1024;

/**
 * Public catalog answers: a browser revalidates every time (a 304 costs no body), a shared cache (CDN) may
 * keep them a few seconds. Staff see drafts and archived products: never stored anywhere.
 */
const PUBLIC_CACHE_CONTROL = 'public, max-age=0, s-maxage=5, must-revalidate';
const PRIVATE_CACHE_CONTROL = 'private, no-store';

/** True when an If-None-Match header names this ETag (or `*`); weak comparison, as RFC 9110 asks for GET. */
function matches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header === etag || header === '*') return true;
  for (const part of header.split(',')) {
    const tag = part.trim();
    if (tag === etag || tag === `W/${etag}`) return true;
  }
  return false;
}

const wantsGzip = (request: FastifyRequest) => {
  const accept = request.headers['accept-encoding'];
  return typeof accept === 'string' && /\bgzip\b/.test(accept) && !/\bgzip;\s*q=0(?:\.0*)?\b/.test(accept);
};

/**
 * Sends catalog JSON bytes as they are (their shape is fixed by the SQL that built them, the same fields as
 * the response schema, so serializing again would only cost time), with the ETag: a matching
 * If-None-Match answers 304 without a body.
 */
export function sendCatalog(request: FastifyRequest, reply: FastifyReply, entry: CachedBody, opts: { public: boolean }): FastifyReply | Promise<FastifyReply> {
  reply.header('etag', entry.etag).header('cache-control', opts.public ? PUBLIC_CACHE_CONTROL : PRIVATE_CACHE_CONTROL);
  if (matches(request.headers['if-none-match'], entry.etag)) return reply.code(304).send();
  reply.header('content-type', JSON_TYPE);
  if (entry.body.length < COMPRESS_MIN_BYTES) return reply.send(entry.body);
  const vary = reply.getHeader('vary');
  reply.header('vary', vary ? `${String(vary)}, Accept-Encoding` : 'Accept-Encoding');
  if (!wantsGzip(request)) return reply.send(entry.body);
  return (async () => {
    // Made once per entry: a locally cached page is compressed on its first gzip request only.
    entry.gzip ??= await gzipAsync(entry.body);
    return reply.header('content-encoding', 'gzip').send(entry.gzip);
  })();
}
