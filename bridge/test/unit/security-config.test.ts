import { describe, it, expect } from 'vitest';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, ConfigError } from '../../src/config/index.ts';
import { addCredential, hashSecret, verifySecret, MqttAccess, CredentialsError } from '../../src/ingress/mqtt-auth.ts';

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

  it('refuses an embedded MQTT listener without logins on a non-loopback interface', () => {
    const msg = errorOf(load({ production: true, mqtt: { embedded: { host: '0.0.0.0' } } }));
    expect(msg).toMatch(/mqtt\.embedded\.auth: expected a credentials file \(mqtt\.embedded\.auth\.credentialsFile\) for a listener on 0\.0\.0\.0/);
  });

  it('accepts the same settings without production, and a production config that has them right', () => {
    expect(() => load({ mqtt: { embedded: { host: '0.0.0.0' } }, amqp: { urls: ['amqp://guest:guest@rabbit.plant.lan'] } })()).not.toThrow();
    expect(() =>
      load({ production: true, mqtt: { embedded: { host: '0.0.0.0', auth: { credentialsFile: '/etc/edge-bridge/creds.json' } } }, amqp: { urls: ['amqp://bridge:s3cret@rabbit.plant.lan'] } })(),
    ).not.toThrow();
  });
});

describe('MQTT credentials', () => {
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
    const acl = new MqttAccess(file);
    expect(await acl.authenticate('node-a', 'node-a', Buffer.from('secret-of-node-a'))).toBe(true);
    expect(await acl.authenticate('node-a', 'node-a', Buffer.from('secret-of-node-b'))).toBe(false);
    expect(await acl.authenticate('node-b', 'node-a', Buffer.from('secret-of-node-a'))).toBe(false); // client id must be the login
    expect(await acl.authenticate('nobody', 'nobody', Buffer.from('secret-of-node-a'))).toBe(false);
    expect(acl.mayPublish('node-a', 'factory/floor1/node-a/telemetry')).toBe(true);
    expect(acl.mayPublish('node-a', 'factory/floor1/node-a/status')).toBe(true);
    expect(acl.mayPublish('node-a', 'factory/floor1/node-b/telemetry')).toBe(false);
    expect(acl.mayPublish('node-a', 'factory/floor1/node-b/cmd')).toBe(false);
    expect(acl.maySubscribe('node-a', 'factory/floor1/node-a/cmd')).toBe(true);
    expect(acl.maySubscribe('node-a', 'factory/floor1/node-b/cmd')).toBe(false);
    expect(acl.maySubscribe('node-a', 'factory/floor1/+/cmd')).toBe(false);
    expect(acl.maySubscribe('node-a', '#')).toBe(false);
    expect(acl.mayPublish('ops', 'factory/floor1/node-b/cmd')).toBe(true);
    expect(acl.mayPublish('ops', 'factory/floor1/node-b/telemetry')).toBe(false);
    expect(acl.counts).toEqual({ loginsRefused: 3, publishDenied: 3, subscribeDenied: 3 });
  });

  it('rejects a malformed credentials file and a short secret with a clear error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'creds-'));
    writeFileSync(join(dir, 'bad.json'), '{"version":1,"users":{"a/b":{"secret":"scrypt$1"}}}');
    expect(() => new MqttAccess(join(dir, 'bad.json'))).toThrow(/user 'a\/b' is not a device id/);
    await expect(addCredential(join(dir, 'c.json'), 'n', 'short')).rejects.toThrow(CredentialsError);
  });
});
