// The PEM files a config points at, read and checked once at start-up: a missing file, a
// garbled PEM or a key that does not belong to its certificate is a config error naming
// the setting, not a stack trace now or an obscure handshake failure on every connect later.
import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import { ConfigError } from './load.ts';

export interface TlsFileNames {
  caFile?: string;
  certFile?: string;
  keyFile?: string;
}

// A type, not an interface: amqplib's socket options want an index signature.
export type TlsMaterial = {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
};

const CERT_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Reads `section`'s files (e.g. 'amqp.tls'); throws a ConfigError listing every problem. */
export function readTlsFiles(section: string, names: TlsFileNames): TlsMaterial {
  const problems: string[] = [];
  const read = (field: keyof TlsFileNames): Buffer | undefined => {
    const file = names[field];
    if (file === undefined) return undefined;
    try {
      return readFileSync(file);
    } catch (err) {
      problems.push(`${section}.${field}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
      return undefined;
    }
  };
  const material: TlsMaterial = { ca: read('caFile'), cert: read('certFile'), key: read('keyFile') };
  if (problems.length === 0) {
    if (material.ca) {
      // Node takes a CA file without a single certificate in it silently, and then trusts nothing.
      const blocks = material.ca.toString('latin1').match(CERT_BLOCK) ?? [];
      if (blocks.length === 0) problems.push(`${section}.caFile: expected PEM certificates (-----BEGIN CERTIFICATE-----) in ${names.caFile}`);
      for (const block of blocks) {
        try {
          new X509Certificate(block);
        } catch (err) {
          problems.push(`${section}.caFile: a certificate in ${names.caFile} does not parse: ${(err as Error).message}`);
          break;
        }
      }
    }
    if ((material.cert === undefined) !== (material.key === undefined)) {
      problems.push(`${section}: expected certFile and keyFile together (a certificate is useless without its key)`);
    } else if (material.cert && material.key) {
      try {
        createSecureContext({ cert: material.cert, key: material.key });
      } catch (err) {
        problems.push(`${section}: certFile ${names.certFile} and keyFile ${names.keyFile} are not a usable certificate and key: ${(err as Error).message}`);
      }
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return material;
}
