/**
 * Typed client of the Agape Commerce API: openapi-fetch over the types `npm run client:generate` writes
 * into schema.ts from the OpenAPI document. Paths are the document's, `/api/v1/...` included, so
 * `baseUrl` is the server's origin.
 *
 *   const api = createAgapeClient({ baseUrl: 'https://shop.example.ng' });
 *   const { data, error } = await api.POST('/api/v1/cart');
 *
 * `data` is the typed 2xx body and `error` the typed problem+json body (one of them is set).
 */
import createClient, { type Client, type ClientOptions } from 'openapi-fetch';
import type { components, operations, paths } from './schema.js';

export type { components, operations, paths };
export type AgapeClient = Client<paths>;
/** The problem+json body every error answer carries (RFC 9457 plus `code` and `requestId`). */
export type Problem = operations['createCheckout']['responses'][422]['content']['application/json'];

export function createAgapeClient(options: ClientOptions & { baseUrl: string }): AgapeClient {
  return createClient<paths>(options);
}
