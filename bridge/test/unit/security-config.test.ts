import { describe, it, expect } from 'vitest';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, ConfigError } from '../../src/config/index.ts';
import { addCredential, hashSecret, verifySecret, DeviceAccess, CredentialsError } from '../../src/ingress/mqtt-auth.ts';

function load(obj: object) {
  const dir = mkdtempSync(join(tmpdir(), 'prodcfg-'));
  const file = join(dir, 'c.json');
  writeFileSync(file, JSON.stringify(obj));
  return () => loadConfig({ file, env: {} });
}
const errorOf = (f: () => unknown) => {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
};

describe('production mode', () => {
  it('refuses guest or no credentials towards a non-loopback RabbitMQ, naming the path', () => {
    const msg = errorOf(load({ production: true, mqtt: { embedded: { host: '127.0.0.1' } }, amqp: { urls: ['amqp://127.0.0.1', 'amqp://guest:guest@rabbit.plant.lan:5672', 'amqp://rabbit2.plant.lan'] } }));
    expect(msg).toMatch(/amqp\.urls\[1\]: expected credentials other than guest\/none towards the non-loopback broker rabbit\.plant\.lan.*\(production: true\)/);
    expect(msg).not.toContain('guest:guest'); // the password is masked even here
    expect(msg).toMatch(/amqp\.urls\[2\]: expected credentials/);
    expect(msg).not.toMatch(/amqp\.urls\[0\]/); // loopback guest is fine
  });

  it('refuses amqp:// with a password, external MQTT in clear, and HTTP without a token off loopback', () => {
    const msg = errorOf(
      load({
        production: true,
        mqtt: { mode: 'external', external: { url: 'mqtt://mosquitto.plant.lan:1883' } },
        amqp: { urls: ['amqp://bridge:s3cret@rabbit.plant.lan', 'amqps://bridge:s3cret@rabbit2.plant.lan', 'amqp://bridge:s3cret@127.0.0.1'] },
        http: { host: '0.0.0.0' },
      }),
    );
    expect(msg).toMatch(/amqp\.urls\[0\]: expected amqps:\/\/ towards the non-loopback broker rabbit\.plant\.lan.*amqp\.allowPlaintext/);
    expect(msg).not.toMatch(/amqp\.urls\[[12]\]/);
    expect(msg).not.toContain('s3cret');
    expect(msg).toMatch(/mqtt\.external\.url: expected mqtts:\/\/ or wss:\/\/ towards the non-loopback broker mosquitto\.plant\.lan/);
    expect(msg).toMatch(/http\.token: expected a token \(http\.token or EDGE_BRIDGE__HTTP__TOKEN\) for HTTP on 0\.0\.0\.0/);
  });

  it('accepts the same settings without production, and a production config that has them right', () => {
    expect(() => load({ mqtt: { embedded: { host: '0.0.0.0', allowAnonymous: true } }, amqp: { urls: ['amqp://guest:guest@rabbit.plant.lan'] }, http: { host: '0.0.0.0' } })()).not.toThrow();
    expect(() =>
      load({
        production: true,
        mqtt: { embedded: { host: '0.0.0.0', auth: { credentialsFile: '/etc/edge-bridge/creds.json' } } },
        amqp: { urls: ['amqp://bridge:s3cret@rabbit.plant.lan'], allowPlaintext: true },
        http: { host: '0.0.0.0', token: 'a-long-enough-token' },
      })(),
    ).not.toThrow();
  });
});

describe('secure defaults, with or without production', () => {
  it('listens on loopback by default', () => {
    expect(loadConfig({ env: {} }).mqtt.embedded.host).toBe('127.0.0.1');
  });

  it('refuses an embedded listener without logins off loopback, naming mqtt.embedded.host and the fix', () => {
    for (const production of [false, true]) {
      const msg = errorOf(load({ production, mqtt: { embedded: { host: '0.0.0.0' } } }));
      expect(msg).toMatch(/mqtt\.embedded\.host: expected a loopback address without logins, found "0\.0\.0\.0"/);
      expect(msg).toMatch(/mqtt\.embedded\.auth\.credentialsFile/);
      expect(msg).toMatch(/mqtt\.embedded\.allowAnonymous: true/);
    }
    expect(() => load({ mqtt: { embedded: { host: '192.168.1.10', auth: { credentialsFile: '/etc/c.json' } } } })()).not.toThrow();
    expect(() => load({ mqtt: { embedded: { host: '::1' } } })()).not.toThrow();
  });

  it('checks topic prefixes and serial link declarations', () => {
    expect(errorOf(load({ mqtt: { topicPrefixes: ['factory/+'] } }))).toMatch(/mqtt\.topicPrefixes\[0\]: expected a topic prefix/);
    expect(errorOf(load({ serial: { ports: [{ path: '/dev/ttyUSB0', devices: ['ok', 'not ok'] }] } }))).toMatch(/serial\.ports\[0\]/);
    const c = load({ serial: { ports: [{ path: '/dev/ttyUSB0', topicPrefix: 'factory/floor1', devices: ['node-1'] }, { tcp: 'gw:4000' }] } })();
    expect(c.serial.ports[0]).toMatchObject({ topicPrefix: 'factory/floor1', devices: ['node-1'] });
    expect(c.serial.ports[1]).toMatchObject({ devices: 'any' });
    expect(c.serial.ports[1]).not.toHaveProperty('topicPrefix');
  });
});

describe('MQTT credentials', () => {
  it('without logins, binds each message to the device level of its topic', () => {
    const open = new DeviceAccess({});
    expect(open.logins).toBe(false);
    expect(open.publish('any-client', 'a/b/c/dev-1/telemetry')).toEqual({ allowed: true, kind: 'telemetry', identity: 'dev-1' });
    expect(open.publish('any-client', 'dev-1/telemetry').allowed).toBe(false); // no prefix
    expect(open.publish('any-client', 'a//dev-1/telemetry').allowed).toBe(false);
    expect(open.publish('any-client', 'a/dev-1/other').allowed).toBe(false);
    expect(open.maySubscribe('x', 'a/dev-1/cmd')).toBe(true);
    expect(open.maySubscribe('x', '#')).toBe(false);
    expect(open.maySubscribe('x', 'a/+/cmd')).toBe(false);
    const fenced = new DeviceAccess({ topicPrefixes: ['factory/floor1'] });
    expect(fenced.publish('x', 'factory/floor1/dev-1/telemetry').allowed).toBe(true);
    expect(fenced.publish('x', 'factory/floorX/dev-1/telemetry').allowed).toBe(false);
  });

  it('costs one scrypt for an unknown user as for a known one', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'creds-')), 'creds.json');
    await addCredential(file, 'node-a', 'secret-of-node-a');
    const acl = new DeviceAccess({ credentialsFile: file });
    await acl.authenticate('nobody', 'nobody', Buffer.from('x')); // the decoy hash is made once
    const time = async (user: string) => {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < 4; i++) expect(await acl.authenticate(user, user, Buffer.from('wrong-secret'))).toBe(false);
      return Number(process.hrtime.bigint() - t0) / 4e6;
    };
    const known = await time('node-a');
    const unknown = await time('nobody-at-all');
    // scrypt at N=16384 takes tens of ms; a skipped hash would take well under 1 ms.
    expect(unknown).toBeGreaterThan(known * 0.25);
  });

  it('hashes with scrypt and a fresh salt, and verifies only the right secret', async () => {
    const a = await hashSecret('correct horse battery');
    const b = await hashSecret('correct horse battery');
    expect(a).toMatch(/^scrypt\$16384\$8\$1\$/);
    expect(a).not.toBe(b);
    expect(await verifySecret('correct horse battery', a)).toBe(true);
    expect(await verifySecret('correct horse batterY', a)).toBe(false);
    expect(await verifySecret('x', 'plain:text')).toBe(false);
  });

  it('stores the file 0600 without the secret, and checks logins and ACLs per device', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'creds-')), 'creds.json');
    await addCredential(file, 'node-a', 'secret-of-node-a');
    await addCredential(file, 'node-b', 'secret-of-node-b');
    await addCredential(file, 'ops', 'secret-of-operator', 'operator');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8')).not.toContain('secret-of');
    await addCredential(file, 'node-c', 'secret-of-node-c', 'device', ['site/a', 'site/b/line2']);
    const acl = new DeviceAccess({ credentialsFile: file, topicPrefixes: ['factory/floor1'] });
    const mayPublish = (clientId: string, topic: string) => acl.publish(clientId, topic).allowed;
    expect(await acl.authenticate('node-a', 'node-a', Buffer.from('secret-of-node-a'))).toBe(true);
    expect(await acl.authenticate('node-a', 'node-a', Buffer.from('secret-of-node-b'))).toBe(false);
    expect(await acl.authenticate('node-b', 'node-a', Buffer.from('secret-of-node-a'))).toBe(false); // client id must be the login
    expect(await acl.authenticate('nobody', 'nobody', Buffer.from('secret-of-node-a'))).toBe(false);
    expect(mayPublish('node-a', 'factory/floor1/node-a/telemetry')).toBe(true);
    expect(mayPublish('node-a', 'factory/floor1/node-a/status')).toBe(true);
    expect(mayPublish('node-a', 'factory/floor1/node-b/telemetry')).toBe(false);
    expect(mayPublish('node-a', 'factory/floor1/node-b/cmd')).toBe(false);
    expect(acl.maySubscribe('node-a', 'factory/floor1/node-a/cmd')).toBe(true);
    expect(acl.maySubscribe('node-a', 'factory/floor1/node-b/cmd')).toBe(false);
    expect(acl.maySubscribe('node-a', 'factory/floor1/+/cmd')).toBe(false);
    expect(acl.maySubscribe('node-a', '#')).toBe(false);
    expect(mayPublish('ops', 'factory/floor1/node-b/cmd')).toBe(true);
    expect(mayPublish('ops', 'factory/floor1/node-b/telemetry')).toBe(false);
    expect(acl.publish('node-a', 'factory/floor1/node-a/status')).toEqual({ allowed: true, kind: 'status', identity: 'node-a' });
    // Prefixes are matched whole: no other prefix, no extra level, the login's own list first.
    expect(mayPublish('node-a', 'factory/floorX/injected/node-a/telemetry')).toBe(false);
    expect(mayPublish('node-a', 'factory/floor1/x/node-a/telemetry')).toBe(false);
    expect(mayPublish('node-c', 'site/a/node-c/telemetry')).toBe(true);
    expect(mayPublish('node-c', 'site/b/line2/node-c/telemetry')).toBe(true);
    expect(mayPublish('node-c', 'factory/floor1/node-c/telemetry')).toBe(false);
    expect(acl.maySubscribe('node-c', 'site/a/node-c/cmd')).toBe(true);
    expect(acl.counts).toEqual({ loginsRefused: 3, publishDenied: 6, subscribeDenied: 3 });
  });

  it('rejects a malformed credentials file and a short secret with a clear error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'creds-'));
    writeFileSync(join(dir, 'bad.json'), '{"version":1,"users":{"a/b":{"secret":"scrypt$1"}}}');
    expect(() => new DeviceAccess({ credentialsFile: join(dir, 'bad.json') })).toThrow(/user 'a\/b' is not a device id/);
    await expect(addCredential(join(dir, 'd.json'), 'n', 'long-enough-secret', 'device', ['a/#'])).rejects.toThrow(/prefix 'a\/#' is not a topic prefix/);
    await expect(addCredential(join(dir, 'c.json'), 'n', 'short')).rejects.toThrow(CredentialsError);
  });
});
