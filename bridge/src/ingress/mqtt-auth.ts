// Logins and per-device ACLs for the embedded MQTT listener.
//
// The credentials file is JSON, written by `edge-bridge credentials add`:
//   { "version": 1, "users": { "<device id>": { "secret": "scrypt$16384$8$1$<salt b64>$<hash b64>", "role": "device" } } }
// Secrets are hashed with scrypt (node:crypto), a random 16-byte salt each, the cost
// parameters kept with the hash so they can be raised later; comparison is constant-time.
//
// Identity: a device logs in with username = its device id and must use it as its
// client id too, so the ACL hooks (which see the client id) act on the proven identity.
// A device publishes only to <prefix>/<its id>/telemetry and .../status, and subscribes
// only to <prefix>/<its id>/cmd. An "operator" may publish and subscribe to cmd topics
// of any device (for tools such as the browser board), and nothing else.
import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';

const scrypt = (secret: string, salt: Buffer, len: number, o: ScryptOptions) =>
  new Promise<Buffer>((resolve, reject) => scryptCb(secret, salt, len, o, (err, key) => (err ? reject(err) : resolve(key))));

export type Role = 'device' | 'operator';

interface Entry {
  secret: string;
  role?: Role;
}

interface CredentialsFile {
  version: 1;
  users: Record<string, Entry>;
}

const DEVICE_ID = /^[A-Za-z0-9_-]{1,64}$/;
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
    if (!DEVICE_ID.test(user)) throw new CredentialsError(`credentials file ${file}: user '${user}' is not a device id ([A-Za-z0-9_-]{1,64})`);
    if (typeof e?.secret !== 'string' || !e.secret.startsWith('scrypt$')) throw new CredentialsError(`credentials file ${file}: user '${user}' has no scrypt secret`);
    if (e.role !== undefined && e.role !== 'device' && e.role !== 'operator') throw new CredentialsError(`credentials file ${file}: user '${user}' has role '${String(e.role)}' (device or operator)`);
  }
  return f;
}

/** Adds or replaces one user; the file is written whole (mode 0600) and renamed into place. */
export async function addCredential(file: string, user: string, secret: string, role: Role = 'device'): Promise<void> {
  if (!DEVICE_ID.test(user)) throw new CredentialsError(`user '${user}' is not a device id ([A-Za-z0-9_-]{1,64})`);
  if (secret.length < 12) throw new CredentialsError('secret must have at least 12 characters');
  const f: CredentialsFile = existsSync(file) ? parse(file) : { version: 1, users: {} };
  f.users[user] = { secret: await hashSecret(secret), role };
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, JSON.stringify(f, null, 2) + '\n', { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}

/** Topic levels `<...prefix>/<device>/<kind>` with no wildcards. */
function split(topic: string): { device: string; kind: string } | undefined {
  if (topic.includes('+') || topic.includes('#')) return undefined;
  const levels = topic.split('/');
  if (levels.length < 3) return undefined;
  return { device: levels[levels.length - 2]!, kind: levels[levels.length - 1]! };
}

export class MqttAccess {
  /** Logins refused and ACL denials, for metrics and tests. */
  readonly counts = { loginsRefused: 0, publishDenied: 0, subscribeDenied: 0 };
  private readonly users: Record<string, Entry>;

  constructor(file: string) {
    this.users = parse(file).users;
  }

  private role(clientId: string): Role | undefined {
    return this.users[clientId]?.role ?? (this.users[clientId] ? 'device' : undefined);
  }

  async authenticate(clientId: string, username: string | undefined, password: Buffer | undefined): Promise<boolean> {
    const entry = username === undefined ? undefined : this.users[username];
    const ok = !!entry && !!password && username === clientId && (await verifySecret(password.toString('utf8'), entry.secret));
    if (!ok) this.counts.loginsRefused++;
    return ok;
  }

  mayPublish(clientId: string, topic: string): boolean {
    const t = split(topic);
    const role = this.role(clientId);
    const ok = !!t && (role === 'operator' ? t.kind === 'cmd' : role === 'device' && t.device === clientId && (t.kind === 'telemetry' || t.kind === 'status'));
    if (!ok) this.counts.publishDenied++;
    return ok;
  }

  maySubscribe(clientId: string, topic: string): boolean {
    const t = split(topic);
    const role = this.role(clientId);
    const ok = !!t && t.kind === 'cmd' && (role === 'operator' || (role === 'device' && t.device === clientId));
    if (!ok) this.counts.subscribeDenied++;
    return ok;
  }
}
