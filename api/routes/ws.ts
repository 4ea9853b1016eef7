import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';

/**
 * `GET /api/v1/ws`: the real-time channel. Authenticate with the access token in the first message
 * `{type: "auth", token}` or in `Sec-WebSocket-Protocol: bearer, <token>`; sockets that do neither within
 * WS_AUTH_TIMEOUT_MS (5 s) are closed with 4401. Server messages are `{type, data, at}`.
 */
const ws: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/ws',
    {
      websocket: true,
      schema: {
        tags: ['real-time'],
        summary: 'WebSocket: order status changes for customers, order/payment/stock notices for staff',
        description:
          'Upgrade to a WebSocket. First message `{"type":"auth","token":"<accessToken>"}` (or protocols `bearer, <token>`); ' +
          'the server answers `{"type":"auth.ok"}` then sends `{type, data, at}` notices: `order.status_changed` (own orders), ' +
          'and for staff `order.created`, `payment.problem`, `inventory.low_stock`; `notification.created` and ' +
          '`notification.unread_count` to the recipient; support: client `support.watch`/`support.unwatch {conversationId}`, ' +
          '`support.typing` (relayed at most every 3 s), `support.read {conversationId, seq}`; server `support.message`, ' +
          '`support.typing`, `support.read`, `support.conversation_updated`, `support.reply_status`, scoped like the REST routes ' +
          '(out of scope: `{type: "error", data: {code: "not_found"}}`). Pings every 30 s.',
        hide: false,
      },
    },
    (socket, request) => {
      app.realtime.accept(socket, request);
    },
  );
};
export default ws;
