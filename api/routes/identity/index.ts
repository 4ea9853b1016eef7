import type { FastifyPluginAsync } from 'fastify';
import adminUsers from './admin-users.js';
import auth from './auth.js';
import me from './me.js';

/** Identity routes under /api/v1: auth, me, admin/users. */
const identityRoutes: FastifyPluginAsync = async (app) => {
  await app.register(auth);
  await app.register(me);
  await app.register(adminUsers);
};
export default identityRoutes;
export { default as dashboardLogin } from './dashboard-login.js';
