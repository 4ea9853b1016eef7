import type { QueueName } from '../../shared/queues.js';
import type { ProcessorDefinition } from '../context.js';
import { emailProcessor } from './email.js';
import { notBuiltYet } from './pending.js';
import { paymentProcessor } from './payment.js';
import { systemProcessor } from './system.js';

export const processors: { [Q in QueueName]: ProcessorDefinition<Q> } = {
  system: systemProcessor,
  email: emailProcessor,
  invoice: { handlers: { 'invoice.render': notBuiltYet('invoice.render') } },
  payment: paymentProcessor,
  refund: { handlers: { 'refund.execute': notBuiltYet('refund.execute') } },
  reconciliation: { handlers: { 'reconciliation.run': notBuiltYet('reconciliation.run') } },
  inventory: { handlers: { 'inventory.expire-reservations': notBuiltYet('inventory.expire-reservations') } },
  imports: { handlers: { 'import.products': notBuiltYet('import.products') } },
};
