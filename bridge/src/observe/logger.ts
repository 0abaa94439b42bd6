// The bridge's logger: pino JSON lines, each passed through redactSecrets just before it
// is written, so a URL with a password inside an error message, a field or a child
// binding is masked whichever module logged it.
import { pino, type DestinationStream, type Logger } from 'pino';
import { redactSecrets } from './redact.ts';

/** Field names that hold a secret wherever they appear (one level deep), in case a module logs options whole. */
const SECRET_FIELDS = ['password', 'passphrase', 'secret', 'authorization'];

export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options = {
    level,
    redact: { paths: [...SECRET_FIELDS, ...SECRET_FIELDS.map((f) => `*.${f}`)], censor: '***' },
    hooks: { streamWrite: redactSecrets },
  };
  return destination ? pino(options, destination) : pino(options);
}
