import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import {
  createAddress,
  deleteAddress,
  listAddresses,
  updateAddress,
} from '../../../shared/identity/addresses.js';
import { AddressInput, AddressPatch, SavedAddress } from '../../../shared/identity/schemas.js';
import { IdParams, problemResponses } from '../../schemas.js';

const common = { tags: ['auth'], security: [{ bearerAuth: [] }] };

/** /api/v1/me/addresses: the signed-in customer's address book (another user's address is 404). */
const addressRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/me/addresses',
    {
      config: { auth: 'required' },
      schema: {
        ...common,
        operationId: 'listMyAddresses',
        summary: 'Your saved addresses (at most 20), the default first',
        response: {
          200: Type.Object({ items: Type.Array(SavedAddress), nextCursor: Type.Null() }),
          ...problemResponses(401),
        },
      },
    },
    async (request) => listAddresses(app.db, request.auth!.id),
  );

  app.post(
    '/me/addresses',
    {
      config: { auth: 'required' },
      schema: {
        ...common,
        operationId: 'createMyAddress',
        summary: 'Save an address (the first one is the default); 409 address_book_full past 20',
        body: AddressInput,
        response: { 201: SavedAddress, ...problemResponses(400, 401, 409) },
      },
    },
    async (request, reply) => {
      const address = await createAddress(app.db, request.auth!.id, request.body);
      return reply.code(201).header('location', `/api/v1/me/addresses/${address.id}`).send(address);
    },
  );

  app.patch(
    '/me/addresses/:id',
    {
      config: { auth: 'required' },
      schema: {
        ...common,
        operationId: 'updateMyAddress',
        summary: 'Change a saved address, or make it the default',
        params: IdParams,
        body: AddressPatch,
        response: { 200: SavedAddress, ...problemResponses(400, 401, 404) },
      },
    },
    async (request) => updateAddress(app.db, request.auth!.id, request.params.id, request.body),
  );

  app.delete(
    '/me/addresses/:id',
    {
      config: { auth: 'required' },
      schema: {
        ...common,
        operationId: 'deleteMyAddress',
        summary: 'Remove a saved address (a removed default passes to the most recently changed other one)',
        params: IdParams,
        response: { 204: Type.Null(), ...problemResponses(401, 404) },
      },
    },
    async (request, reply) => {
      await deleteAddress(app.db, request.auth!.id, request.params.id);
      return reply.code(204).send(null);
    },
  );
};
export default addressRoutes;
