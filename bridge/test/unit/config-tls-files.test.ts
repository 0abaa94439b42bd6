// TLS files named by the config are checked at start-up: each problem names the setting.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../../src/config/index.ts';
import { readTlsFiles } from '../../src/config/tls-files.ts';
import { makeTestPki, type TestPki } from '../helpers/certs.ts';

describe('readTlsFiles', () => {
  let pki: TestPki;
  beforeAll(async () => {
    pki = await makeTestPki({ client: true });
  });
  afterAll(() => pki?.cleanup());

  const problems = (names: Parameters<typeof readTlsFiles>[1]): string[] => {
    try {
      readTlsFiles('amqp.tls', names);
    } catch (err) {
      if (err instanceof ConfigError) return err.problems;
      throw err;
    }
    return [];
  };

  it('reads a CA, certificate and key that belong together', () => {
    const m = readTlsFiles('amqp.tls', { caFile: pki.caFile, certFile: pki.clientCertFile, keyFile: pki.clientKeyFile });
    expect(m.ca?.toString()).toContain('BEGIN CERTIFICATE');
    expect(m.key?.length).toBeGreaterThan(0);
  });

  it('names the setting for a missing file, a file with no certificate, and a key of another certificate', () => {
    const junk = join(pki.dir, 'junk.pem');
    writeFileSync(junk, 'not a certificate\n');
    expect(problems({ caFile: join(pki.dir, 'missing.pem') })).toEqual([`amqp.tls.caFile: cannot read ${join(pki.dir, 'missing.pem')} (ENOENT)`]);
    expect(problems({ caFile: junk })).toEqual([`amqp.tls.caFile: expected PEM certificates (-----BEGIN CERTIFICATE-----) in ${junk}`]);
    expect(problems({ certFile: pki.serverCertFile, keyFile: pki.clientKeyFile })[0]).toMatch(/^amqp\.tls: certFile .* and keyFile .* are not a usable certificate and key: .*key values mismatch/);
    expect(problems({ certFile: junk, keyFile: pki.clientKeyFile })[0]).toMatch(/^amqp\.tls: certFile .* not a usable certificate and key/);
    expect(problems({ certFile: pki.clientCertFile })).toEqual(['amqp.tls: expected certFile and keyFile together (a certificate is useless without its key)']);
  });
});
