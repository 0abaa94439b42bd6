// Scenario 6's generated Node-RED flow (its figures come from `npm run bench`, never here).
import { describe, expect, it } from 'vitest';
import { flowFor } from '../lib/node-red.ts';

const flow = { mqttUrl: 'mqtt://127.0.0.1:41883', clientId: 'run-nodered0a', filter: 'bench/run/+/telemetry', amqpUrl: 'amqp://guest:gu%40st@127.0.0.1:45672', exchange: 'bench.telemetry' };
type Node = Record<string, unknown> & { id: string; type: string };

describe('Node-RED flow', () => {
  const { flows, credentials } = flowFor(flow);
  const nodes = flows as Node[];
  const byType = (t: string) => nodes.find((n) => n.type === t)!;

  it('subscribes at QoS1 to the bench filter and passes the payload as a buffer', () => {
    expect(byType('mqtt in')).toMatchObject({ topic: flow.filter, qos: '1', datatype: 'buffer', broker: byType('mqtt-broker').id });
    expect(byType('mqtt-broker')).toMatchObject({ broker: '127.0.0.1', port: '41883', clientid: flow.clientId, cleansession: true });
  });

  it('maps the topic to the routing key as the naive bridge does, persistent, onto the existing exchange', () => {
    const rules = byType('change').rules as Array<Record<string, string>>;
    expect(rules[0]).toMatchObject({ t: 'change', p: 'topic', from: '/', fromt: 'str', to: '.' });
    expect(JSON.parse(rules[1]!.to!)).toEqual({ persistent: true });
    expect(byType('amqp out')).toMatchObject({ iotype: '3', ioname: flow.exchange, routingkey: '', server: byType('amqp-server').id });
    const topology = JSON.parse(byType('amqp-server').topology as string);
    expect(topology.exchanges).toEqual([{ name: flow.exchange, type: 'topic', options: { noCreate: true } }]);
    expect(credentials[byType('amqp-server').id]).toEqual({ user: 'guest', password: 'gu@st' });
  });

  it('wires in -> change -> out, and no other property names a config node (Node-RED would take it for a reference)', () => {
    expect(byType('mqtt in').wires).toEqual([[byType('change').id]]);
    expect(byType('change').wires).toEqual([[byType('amqp out').id]]);
    const configIds = new Set([byType('mqtt-broker').id, byType('amqp-server').id]);
    const refs = new Set(['id', 'broker', 'server']);
    for (const n of nodes) for (const [k, v] of Object.entries(n)) if (!refs.has(k)) expect(configIds.has(v as string), `${n.type}.${k}`).toBe(false);
  });
});
