import type { QueueName } from '../../shared/queues.js';
import type { ProcessorDefinition } from '../context.js';
import { customersProcessor } from './customers.js';
import { emailProcessor } from './email.js';
import { importsProcessor } from './imports.js';
import { inventoryProcessor } from './inventory.js';
import { invoiceProcessor } from './invoice.js';
import { notifyProcessor } from './notify.js';
import { paymentProcessor } from './payment.js';
import { pushProcessor } from './push.js';
import { reconciliationProcessor } from './reconciliation.js';
import { recommendationsProcessor } from './recommendations.js';
import { reviewsRecountProcessor } from './reviews-recount.js';
import { refundProcessor } from './refund.js';
import { returnsExpireProcessor } from './returns-expire.js';
import { supportProcessor } from './support.js';
import { systemProcessor } from './system.js';

export const processors: { [Q in QueueName]: ProcessorDefinition<Q> } = {
  system: systemProcessor,
  email: emailProcessor,
  invoice: invoiceProcessor,
  payment: paymentProcessor,
  refund: refundProcessor,
  reconciliation: reconciliationProcessor,
  inventory: inventoryProcessor,
  imports: importsProcessor,
  recommendations: recommendationsProcessor,
  'reviews-recount': reviewsRecountProcessor,
  notify: notifyProcessor,
  push: pushProcessor,
  support: supportProcessor,
  'returns-expire': returnsExpireProcessor,
  customers: customersProcessor,
};
