/** An idempotency key is `running` while its request holds the lease, `done` once its answer is stored. */
export const idempotencyStates = ['running', 'done'] as const;
export type IdempotencyState = (typeof idempotencyStates)[number];
