import { UnrecoverableError } from 'bullmq';

/**
 * Handler for jobs whose processor belongs to a domain not built yet. Failing unrecoverably keeps the
 * job visible in the failed set (and retryable from the dashboard) instead of pretending it ran.
 */
export const notBuiltYet = (name: string) => async (): Promise<never> => {
  throw new UnrecoverableError(`no processor for ${name} yet`);
};
