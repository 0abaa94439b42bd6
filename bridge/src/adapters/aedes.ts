// The aedes internals the embedded broker relies on, in one place. Checked against
// aedes 1.2.0; bridge/test/unit/adapters.test.ts fails if an upgrade changes them.
import type { Aedes, Client, PublishPacket } from 'aedes';

export const AEDES_CHECKED = '1.2.0';

/** The topic filters a client is subscribed to (aedes keeps them in `client.subscriptions`, keyed by filter). */
export function subscriptionsOf(client: Client): string[] {
  const subscriptions = (client as unknown as { subscriptions?: Record<string, unknown> }).subscriptions;
  return subscriptions ? Object.keys(subscriptions) : [];
}

/**
 * Routes a client's PUBLISH to subscribers only when `route(packet)` says so. aedes calls
 * `broker.publish(packet, client, done)` after authorizePublish for every client message
 * (offline queues, mqemitter, retained store), and `publish(packet, done)` for its own $SYS
 * messages, which stay routed.
 */
export function routeClientMessagesOnlyWhen(broker: Aedes, route: (packet: PublishPacket) => boolean): void {
  type PublishFn = (packet: PublishPacket, client: Client | null, done?: (err?: Error | null) => void) => void;
  const target = broker as unknown as { publish: PublishFn };
  const routeToSubscribers = target.publish.bind(broker);
  target.publish = (packet, client, done) => {
    const fromClient = typeof client === 'object' && client !== null;
    if (fromClient && !route(packet)) return done?.(null);
    routeToSubscribers(packet, client, done);
  };
}

/** What releaseRead touches inside a client: aedes's count of packets of the current chunk not yet done. */
interface ClientReadInternals {
  _parsingBatch: number;
  _paused?: boolean;
  closed: boolean;
  conn: { read(size?: number): Buffer | null };
  _parser: { parse(buf: Buffer): void };
}

/**
 * aedes parses a client's next socket chunk only when every packet of the current one is done
 * (lib/client.js nextBatch, counting in `_parsingBatch`), and a QoS 1 PUBLISH is done only after
 * its PUBACK. releaseRead lets one pending packet stop holding the next chunk back, reading it now
 * as nextBatch would; restoreRead must run before that packet's done, which counts it off again.
 * Returns false (nothing changed) while aedes has the client paused or closed.
 */
export function releaseRead(client: Client): boolean {
  const c = client as unknown as ClientReadInternals;
  if (c._paused || c.closed) return false;
  if (--c._parsingBatch <= 0) {
    c._parsingBatch = 0;
    const buf = c.conn.read();
    if (buf) c._parser.parse(buf);
  }
  return true;
}

/** Undoes one releaseRead before the packet's done callback (see releaseRead). */
export function restoreRead(client: Client): void {
  (client as unknown as ClientReadInternals)._parsingBatch++;
}
