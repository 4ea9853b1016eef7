/** Which refund (and refund part) states hold money and which are final: creating, executing and settling read them alike. */

/** Refund (and part) states that hold part of the paid amount. */
export const COMMITTED_REFUND_STATES = ['pending', 'processing', 'processed'] as const;
const FINAL_STATES = new Set(['processed', 'failed']);
export const isFinalRefundStatus = (status: string) => FINAL_STATES.has(status);
