import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * Throwaway PKI made with the openssl CLI (not with the code under test): a CA, a server
 * certificate for 127.0.0.1 and localhost signed by it, optionally a client certificate
 * signed by the same CA, and a second, unrelated CA for "wrong CA" cases.
 * EC P-256 keys: fast to make, accepted by Node and by RabbitMQ's Erlang TLS.
 */
export interface TestPki {
  dir: string;
  caFile: string;
  serverCertFile: string;
  serverKeyFile: string;
  clientCertFile?: string;
  clientKeyFile?: string;
  /** A CA that signed nothing here: trusting only it must fail. */
  otherCaFile: string;
  ca: Buffer;
  otherCa: Buffer;
  /** Deletes the directory. Idempotent. */
  cleanup(): void;
}

export interface PkiOptions {
  client?: boolean;
  /** Common name of the client certificate. Default 'edge-bridge'. */
  clientName?: string;
  /** Directory to create the files in (default: a new one under the OS temp dir). */
  parentDir?: string;
}

async function openssl(cwd: string, args: string[]): Promise<void> {
  try {
    await run('openssl', args, { cwd });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`openssl ${args[0]} failed: ${(e.stderr ?? e.message).trim()}`);
  }
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

async function makeCa(dir: string, name: string): Promise<void> {
  await openssl(dir, ['req', '-x509', ...EC_KEY, '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', `/CN=${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
}

async function makeLeaf(dir: string, name: string, cn: string, extensions: string): Promise<void> {
  writeFileSync(join(dir, `${name}.ext`), extensions);
  await openssl(dir, ['req', '-new', ...EC_KEY, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`]);
  await openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial',
    '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`]);
}

export async function makeTestPki(opts: PkiOptions = {}): Promise<TestPki> {
  const dir = mkdtempSync(join(opts.parentDir ?? tmpdir(), 'edge-pki-'));
  try {
    await makeCa(dir, 'ca');
    await makeCa(dir, 'other-ca');
    await makeLeaf(dir, 'server', 'localhost',
      'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n');
    if (opts.client) {
      await makeLeaf(dir, 'client', opts.clientName ?? 'edge-bridge',
        'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n');
    }
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  // Keys readable by their owner only, as they would be deployed.
  for (const key of ['ca.key', 'other-ca.key', 'server.key', ...(opts.client ? ['client.key'] : [])]) chmodSync(join(dir, key), 0o600);
  return {
    dir,
    caFile: join(dir, 'ca.crt'),
    serverCertFile: join(dir, 'server.crt'),
    serverKeyFile: join(dir, 'server.key'),
    ...(opts.client ? { clientCertFile: join(dir, 'client.crt'), clientKeyFile: join(dir, 'client.key') } : {}),
    otherCaFile: join(dir, 'other-ca.crt'),
    ca: readFileSync(join(dir, 'ca.crt')),
    otherCa: readFileSync(join(dir, 'other-ca.crt')),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
