import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import adminSupport from './admin.js';
import supportAttachments from './attachments.js';
import customerSupport from './customer.js';
import { registerSupportSocket } from './socket.js';

/** The support inbox (contract: Support inbox, approval, chat). Multipart only in the attachments scope. */
const support: FastifyPluginAsyncTypebox = async (app) => {
  await app.register(customerSupport);
  await app.register(adminSupport);
  await app.register(supportAttachments);
  registerSupportSocket(app);
};
export default support;
