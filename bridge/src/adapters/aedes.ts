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
