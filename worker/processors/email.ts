import { UnrecoverableError } from 'bullmq';
import { sendPasswordReset } from '../../shared/auth/accounts.js';
import type { Config } from '../../shared/config.js';
import { invoiceAttachment } from '../../shared/invoices/mail.js';
import { deliverEmail } from '../../shared/mail/deliver.js';
import { MailTemplateError } from '../../shared/mail/render.js';
import { markReplySent } from '../../shared/support/replies.js';
import { publishNotices } from '../../shared/support/publish.js';
import { createMailTransport, PermanentMailError, type MailTransport } from '../../shared/mail/transport.js';
import type { Logger } from '../../shared/logger.js';
import { orderLink } from '../../shared/orders/links.js';
import type { ProcessorDefinition } from '../context.js';

// One transport per worker configuration (tests run several workers in one process).
const transports = new WeakMap<Config, MailTransport>();
function transportFor(config: Config, log: Logger): MailTransport {
  let transport = transports.get(config);
  if (!transport) {
    transport = createMailTransport(config, log);
    transports.set(config, transport);
  }
  return transport;
}

/**
 * `email.send`: render and send once per job (see shared/mail/deliver.ts). Transport hiccups throw and
 * BullMQ retries with backoff; a template/data problem or a permanent refusal goes straight to the
 * failed set.
 */
export const emailProcessor: ProcessorDefinition<'email'> = {
  // Mail jobs wait on the network (the SMTP server, two short statements), hardly on CPU: twice as many
  // at once as the transport pools connections (SMTP_POOL_DEFAULTS.maxConnections), so while some are at
  // the database (claim, record) the others keep every connection busy. Measured: 16 → 32 took mail
  // jobs from ~80 to ~110/s on the loaded bench machine (bench fleet).
  concurrency: 32,
  handlers: {
    'email.send': async (payload, { db, config, log, job, redis }) => {
      let result;
      try {
        const deps = {
          db,
          config,
          log,
          transport: transportFor(config, log),
          resolvers: { invoice: invoiceAttachment },
          orderUrl: (orderId: string) => orderLink(config, orderId),
        };
        result = await deliverEmail(deps, job.id ?? '', payload);
      } catch (err) {
        if (err instanceof MailTemplateError || err instanceof PermanentMailError) throw new UnrecoverableError(err.message);
        throw err;
      }
      // Also on a retry that finds the mail already sent: a crash between the two must not leave it `approved`.
      if (payload.supportReplyOf) {
        const notices = await markReplySent(db, payload.supportReplyOf);
        await publishNotices(redis, config.QUEUE_PREFIX, notices).catch((err: unknown) => log.warn({ err }, 'support notices not published'));
      }
      return result;
    },
    'email.password-reset': async (payload, { db, config, job }) => sendPasswordReset(db, config, job.id ?? '', payload.emailSealed),
  },
};
