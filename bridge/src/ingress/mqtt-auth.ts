// Who may say what on the embedded MQTT listener: logins, and the topic ACL that binds
// every message to one device identity.
//
// The credentials file is JSON, written by `edge-bridge credentials add`:
//   { "version": 1, "users": { "<device id>": { "secret": "scrypt$16384$8$1$<salt b64>$<hash b64>",
//                                              "role": "device", "prefixes": ["factory/floor1"] } } }
// Secrets are hashed with scrypt (node:crypto), a random 16-byte salt each, the cost
// parameters kept with the hash so they can be raised later; comparison is constant-time,
// and an unknown user costs one scrypt too, so login timing does not tell which ids exist.
//
// Identity: with logins, a device logs in with username = client id = its device id, and
// publishes only on <prefix>/<its id>/telemetry and .../status, subscribes only to
// <prefix>/<its id>/cmd. <prefix> is one of the login's `prefixes`, else of
// mqtt.topicPrefixes, else any. An "operator" publishes and subscribes on cmd topics only.
// Without logins (development, loopback) the identity is the topic's device level.
import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { isDeviceId } from '../codec/index.ts';
import type { MessageKind } from '../types.ts';
import { parseDeviceTopic, prefixAllowed } from './mqtt-topics.ts';

const scrypt = (secret: string, salt: Buffer, len: number, o: ScryptOptions) =>
  new Promise<Buffer>((resolve, reject) => scryptCb(secret, salt, len, o, (err, key) => (err ? reject(err) : resolve(key))));

export type Role = 'device' | 'operator';

interface Entry {
  secret: string;
  role?: Role;
  /** Topic prefixes this login may use; absent: mqtt.topicPrefixes. */
  prefixes?: string[];
}

interface CredentialsFile {
  version: 1;
  users: Record<string, Entry>;
}

const COST = { N: 16384, r: 8, p: 1 };

export async function hashSecret(secret: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(secret, salt, 32, { ...COST, maxmem: 64 * 1024 * 1024 });
  return `scrypt$${COST.N}$${COST.r}$${COST.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

export async function verifySecret(secret: string, stored: string): Promise<boolean> {
  const m = /^scrypt\$(\d+)\$(\d+)\$(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/.exec(stored);
  if (!m) return false;
  const want = Buffer.from(m[5]!, 'base64');
  const got = await scrypt(secret, Buffer.from(m[4]!, 'base64'), want.length, { N: Number(m[1]), r: Number(m[2]), p: Number(m[3]), maxmem: 256 * 1024 * 1024 });
  return got.length === want.length && timingSafeEqual(got, want);
}

export class CredentialsError extends Error {}

function parse(file: string): CredentialsFile {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new CredentialsError(`credentials file ${file}: ${(err as Error).message}`);
  }
  const f = raw as CredentialsFile;
  if (typeof f !== 'object' || f === null || f.version !== 1 || typeof f.users !== 'object' || f.users === null) {
    throw new CredentialsError(`credentials file ${file}: expected {"version": 1, "users": {...}}`);
  }
  for (const [user, e] of Object.entries(f.users)) {
    if (!isDeviceId(user)) throw new CredentialsError(`credentials file ${file}: user '${user}' is not a device id ([A-Za-z0-9_-]{1,64})`);
    if (typeof e?.secret !== 'string' || !e.secret.startsWith('scrypt$')) throw new CredentialsError(`credentials file ${file}: user '${user}' has no scrypt secret`);
    if (e.role !== undefined && e.role !== 'device' && e.role !== 'operator') throw new CredentialsError(`credentials file ${file}: user '${user}' has role '${String(e.role)}' (device or operator)`);
    if (e.prefixes !== undefined && (!Array.isArray(e.prefixes) || !e.prefixes.every(isTopicPrefix))) {
      throw new CredentialsError(`credentials file ${file}: user '${user}' has prefixes ${JSON.stringify(e.prefixes)} (a list of topic prefixes such as "factory/floor1")`);
    }
  }
  return f;
}

/** A topic prefix: one or more non-empty levels, no wildcards. */
export function isTopicPrefix(p: unknown): p is string {
  return typeof p === 'string' && p.length > 0 && !/[+#\u0000]/.test(p) && !p.split('/').includes('');
}

/** Adds or replaces one user; the file is written whole (mode 0600) and renamed into place. */
export async function addCredential(file: string, user: string, secret: string, role: Role = 'device', prefixes?: string[]): Promise<void> {
  if (!isDeviceId(user)) throw new CredentialsError(`user '${user}' is not a device id ([A-Za-z0-9_-]{1,64})`);
  if (secret.length < 12) throw new CredentialsError('secret must have at least 12 characters');
  const bad = prefixes?.find((p) => !isTopicPrefix(p));
  if (bad !== undefined) throw new CredentialsError(`prefix '${bad}' is not a topic prefix (levels separated by /, no wildcards, no empty level)`);
  const f: CredentialsFile = existsSync(file) ? parse(file) : { version: 1, users: {} };
  f.users[user] = { secret: await hashSecret(secret), role, ...(prefixes?.length ? { prefixes } : {}) };
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, JSON.stringify(f, null, 2) + '\n', { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}

/** What a PUBLISH may be: a device message with its verified identity, a command, or nothing. */
export type PublishVerdict =
  | { allowed: true; kind: MessageKind; identity: string }
  | { allowed: true; kind: 'cmd' }
  | { allowed: false; reason: string };

export interface DeviceAccessOptions {
  /** Logins; without them every client is anonymous (development, loopback). */
  credentialsFile?: string;
  /** Prefixes for logins without their own, and for anonymous clients; undefined: any. */
  topicPrefixes?: readonly string[];
}

const CMD: PublishVerdict = Object.freeze({ allowed: true, kind: 'cmd' });

export class DeviceAccess {
  /** Logins refused and ACL denials, for metrics and tests. */
  readonly counts = { loginsRefused: 0, publishDenied: 0, subscribeDenied: 0 };
  private readonly users: Record<string, Entry> | undefined;
  private readonly topicPrefixes: readonly string[] | undefined;
  /** Verified against when the user is unknown, so that costs one scrypt as well. */
  private decoy: Promise<string> | undefined;

  constructor(o: DeviceAccessOptions) {
    this.users = o.credentialsFile === undefined ? undefined : parse(o.credentialsFile).users;
    this.topicPrefixes = o.topicPrefixes;
  }

  get logins(): boolean {
    return this.users !== undefined;
  }

  async authenticate(clientId: string, username: string | undefined, password: Buffer | undefined): Promise<boolean> {
    if (!this.users) return true;
    const entry = username === undefined ? undefined : this.users[username];
    this.decoy ??= hashSecret(randomBytes(16).toString('hex'));
    const stored = entry?.secret ?? (await this.decoy);
    const match = await verifySecret(password?.toString('utf8') ?? '', stored);
    const ok = match && !!entry && !!password && username === clientId;
    if (!ok) this.counts.loginsRefused++;
    return ok;
  }

  publish(clientId: string, topic: string): PublishVerdict {
    const verdict = this.judgePublish(clientId, topic);
    if (!verdict.allowed) this.counts.publishDenied++;
    return verdict;
  }

  maySubscribe(clientId: string, topic: string): boolean {
    const t = parseDeviceTopic(topic);
    const role = this.role(clientId);
    const ok =
      !!t && t.kind === 'cmd' && prefixAllowed(t.prefix, this.prefixesOf(clientId)) &&
      (role === 'anonymous' || role === 'operator' || (role === 'device' && t.device === clientId));
    if (!ok) this.counts.subscribeDenied++;
    return ok;
  }

  private judgePublish(clientId: string, topic: string): PublishVerdict {
    const t = parseDeviceTopic(topic);
    if (!t) return { allowed: false, reason: 'not a device topic <prefix>/<device>/<telemetry|status|cmd>' };
    if (!prefixAllowed(t.prefix, this.prefixesOf(clientId))) return { allowed: false, reason: `prefix '${t.prefix}' not allowed` };
    const role = this.role(clientId);
    if (role === undefined) return { allowed: false, reason: 'no login' };
    if (t.kind === 'cmd') return role === 'device' ? { allowed: false, reason: 'devices do not publish commands' } : CMD;
    if (role === 'operator') return { allowed: false, reason: 'operators publish commands only' };
    if (role === 'device' && t.device !== clientId) return { allowed: false, reason: `device level '${t.device}' is not the login '${clientId}'` };
    return { allowed: true, kind: t.kind, identity: t.device };
  }

  /** undefined: a client id with no login, which authenticate() never lets in. */
  private role(clientId: string): Role | 'anonymous' | undefined {
    if (!this.users) return 'anonymous';
    const entry = this.users[clientId];
    return entry && (entry.role ?? 'device');
  }

  private prefixesOf(clientId: string): readonly string[] | undefined {
    return this.users?.[clientId]?.prefixes ?? this.topicPrefixes;
  }
}
