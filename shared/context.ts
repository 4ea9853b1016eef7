import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * The request (or job) a piece of work belongs to. The API enters it per request and the worker per job,
 * so jobs written to the outbox carry the id of the request that caused them without threading it
 * through every domain function.
 */
export interface WorkContext {
  requestId?: string;
  actorId?: string;
  /** The client address of the request (audit rows record it). */
  ip?: string;
}

export const workContext = new AsyncLocalStorage<WorkContext>();

export const currentRequestId = () => workContext.getStore()?.requestId;

export const currentClientIp = () => workContext.getStore()?.ip;
