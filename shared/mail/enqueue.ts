import type { Static } from 'typebox';
import type { Config } from '../config.js';
import type { Trx } from '../db/index.js';
import { enqueue } from '../outbox.js';
import { encrypt } from '../crypto.js';
// Types only: the API queues mail, the worker renders it; the templates stay out of the API process.
import type { templates, TemplateName } from './registry.js';
import { SEALED_KEY } from './sealed.js';

type DataOf<T extends TemplateName> = Static<(typeof templates)[T]['schema']>;

export interface MailOptions<T extends TemplateName> {
  /** Fields that must not sit readable in the outbox, Redis or the dashboard (links with tokens). */
  secret?: Partial<DataOf<T>>;
  /** An order whose invoice PDF the worker attaches. */
  attachInvoiceOf?: string;
  /**
   * An order whose signed link (shared/orders/links.ts) the worker puts in `orderUrl` at send time: the
   * one way a mail links to an order, and no token is ever in the payload.
   */
  orderLinkOf?: string;
  /** An approved support reply this mail carries: once the transport accepts it, the reply is marked sent. */
  supportReplyOf?: string;
}

/**
 * Queues a mail through the outbox, inside the caller's transaction: it goes out only if the transaction
 * commits. Typed by the registry: the data must fit the template. `config` (ENCRYPTION_KEY) seals `secret`;
 * a mail without secrets may pass null.
 */
export function enqueueMail<T extends TemplateName>(
  trx: Trx,
  config: Pick<Config, 'ENCRYPTION_KEY'>,
  template: T,
  to: string,
  data: Partial<DataOf<T>>,
  opts?: MailOptions<T>,
): Promise<string>;
export function enqueueMail<T extends TemplateName>(trx: Trx, config: null, template: T, to: string, data: Partial<DataOf<T>>, opts?: Omit<MailOptions<T>, 'secret'>): Promise<string>;
export function enqueueMail<T extends TemplateName>(
  trx: Trx,
  config: Pick<Config, 'ENCRYPTION_KEY'> | null,
  template: T,
  to: string,
  /** The template's data less what `secret` and `orderLinkOf` carry; the whole is checked against the schema in the worker. */
  data: Partial<DataOf<T>>,
  opts: MailOptions<T> = {},
): Promise<string> {
  const payloadData: Record<string, unknown> = { ...data };
  if (opts.secret) {
    if (!config) throw new Error('enqueueMail: sealing a secret needs ENCRYPTION_KEY');
    payloadData[SEALED_KEY] = encrypt(config.ENCRYPTION_KEY, JSON.stringify(opts.secret));
  }
  return enqueue(trx, 'email.send', {
    template,
    to,
    data: payloadData,
    ...(opts.attachInvoiceOf ? { attachInvoiceOf: opts.attachInvoiceOf } : {}),
    ...(opts.orderLinkOf ? { orderLinkOf: opts.orderLinkOf } : {}),
    ...(opts.supportReplyOf ? { supportReplyOf: opts.supportReplyOf } : {}),
  });
}
