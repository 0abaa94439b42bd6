// Device topics (PROTOCOL.md section 2): `<prefix>/<device>/<telemetry|status|cmd>`.
// The prefix is one or more levels, matched whole against the allowed list.
import { isDeviceId } from '../codec/index.ts';
import type { MessageKind } from '../types.ts';

/** Broker-internal topics; clients may not publish there. */
export function isSysTopic(topic: string): boolean {
  return topic.startsWith('$SYS');
}

/** `<prefix>/<device>/cmd`: the only downlink topic, so the only one worth routing to subscribers. */
export function isCommandTopic(topic: string): boolean {
  return topic.endsWith('/cmd') && topic.length > 4;
}

export function commandTopic(topicPrefix: string, device: string): string {
  return `${topicPrefix}/${device}/cmd`;
}

/** True when `topic` is the cmd topic of `device`, under `topicPrefix` if one is given. */
export function isCommandTopicOf(topic: string, device: string, topicPrefix?: string): boolean {
  if (topicPrefix !== undefined) return topic === commandTopic(topicPrefix, device);
  const suffix = `/${device}/cmd`;
  return topic.endsWith(suffix) && topic.length > suffix.length;
}

export type DeviceTopicKind = MessageKind | 'cmd';

export interface DeviceTopic {
  prefix: string;
  device: string;
  kind: DeviceTopicKind;
}

const KINDS: ReadonlySet<string> = new Set<DeviceTopicKind>(['telemetry', 'status', 'cmd']);

/** Topics are few (one or two per device); the bound only guards against a flood of distinct ones. */
const CACHE_LIMIT = 10_000;
const parsed = new Map<string, Readonly<DeviceTopic> | null>();

/**
 * Splits `<prefix>/<device>/<kind>`; undefined for anything else: wildcards, an empty
 * level, no prefix, a device level that is not a device id, another last level.
 * Remembered per topic: every PUBLISH is judged by it, and a device keeps its topic.
 */
export function parseDeviceTopic(topic: string): Readonly<DeviceTopic> | undefined {
  let t = parsed.get(topic);
  if (t === undefined) {
    t = splitDeviceTopic(topic) ?? null;
    if (parsed.size >= CACHE_LIMIT) parsed.clear();
    parsed.set(topic, t);
  }
  return t ?? undefined;
}

function splitDeviceTopic(topic: string): Readonly<DeviceTopic> | undefined {
  if (topic.includes('+') || topic.includes('#')) return undefined;
  const kindAt = topic.lastIndexOf('/');
  const deviceAt = kindAt > 0 ? topic.lastIndexOf('/', kindAt - 1) : -1;
  if (deviceAt <= 0) return undefined;
  const kind = topic.slice(kindAt + 1);
  const device = topic.slice(deviceAt + 1, kindAt);
  const prefix = topic.slice(0, deviceAt);
  if (!KINDS.has(kind) || !isDeviceId(device) || prefix.split('/').includes('')) return undefined;
  return Object.freeze({ prefix, device, kind: kind as DeviceTopicKind });
}

/** `allowed` undefined: any prefix. Otherwise the prefix must be one of them exactly: no extra levels. */
export function prefixAllowed(prefix: string, allowed: readonly string[] | undefined): boolean {
  return allowed === undefined || allowed.includes(prefix);
}
