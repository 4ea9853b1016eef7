import net from 'node:net';
import type { Test } from 'tap';

/**
 * A TCP proxy in front of a server (PostgreSQL) that can hold new connections: while holding, a client
 * that connects waits (its bytes buffered) until `release()`. Lets a test catch a client in the middle of
 * connecting, e.g. to close the owner of a LISTEN connection exactly then. `blackhole()` makes the open
 * connections go silent without closing them (a peer gone without a reset): no byte passes either way.
 */
export async function startTcpProxy(t: Test, target: { host: string; port: number }) {
  let holding = false;
  const held: (() => void)[] = [];
  const sockets = new Set<net.Socket>();
  const pairs = new Set<[net.Socket, net.Socket]>();
  const server = net.createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => client.destroy());
    const connect = () => {
      if (client.destroyed) return;
      const upstream = net.connect(target);
      sockets.add(upstream);
      const pair: [net.Socket, net.Socket] = [client, upstream];
      pairs.add(pair);
      upstream.on('close', () => {
        sockets.delete(upstream);
        pairs.delete(pair);
        client.destroy();
      });
      upstream.on('error', () => upstream.destroy());
      client.on('close', () => upstream.destroy());
      client.pipe(upstream).pipe(client);
    };
    if (holding) held.push(connect);
    else connect();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  t.teardown(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return {
    port,
    /** The same URL, through the proxy. */
    via(url: string) {
      const u = new URL(url);
      u.hostname = '127.0.0.1';
      u.port = String(port);
      return u.toString();
    },
    hold() {
      holding = true;
    },
    /** Connections waiting to be let through. */
    get waiting() {
      return held.length;
    },
    release() {
      holding = false;
      for (const go of held.splice(0)) go();
    },
    /** The connections open now stop passing bytes, and stay open. */
    blackhole() {
      for (const [client, upstream] of pairs) {
        client.unpipe(upstream);
        upstream.unpipe(client);
        client.pause();
        upstream.pause();
      }
      pairs.clear();
    },
  };
}
