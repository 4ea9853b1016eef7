import type { FastifyPluginAsync } from 'fastify';
import addresses from './addresses.js';
import adminUsers from './admin-users.js';
import auth from './auth.js';
import me from './me.js';

/** Identity routes under /api/v1: auth, me (and its address book), admin/users. */
const identityRoutes: FastifyPluginAsync = async (app) => {
  await app.register(auth);
  await app.register(me);
  await app.register(addresses);
  await app.register(adminUsers);
};
export default identityRoutes;
export { default as dashboardLogin } from './dashboard-login.js';
