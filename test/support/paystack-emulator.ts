/** Tests use the same emulator `npm run dev` runs; see shared/integrations/paystack/emulator.ts. */
export {
  startPaystackEmulator,
  type PaystackEmulator,
  type PaystackEmulatorOptions,
  type EmulatedTransaction,
  type EmulatedRefund,
  type WebhookDelivery,
  type FailureSpec,
  type OutageSpec,
  type EmulatorOperation,
  type RefundCreateFault,
  type RefundWebhookMode,
  type HeldWebhook,
} from '../../shared/integrations/paystack/emulator.js';
export { signWebhook } from '../../shared/integrations/paystack/client.js';
