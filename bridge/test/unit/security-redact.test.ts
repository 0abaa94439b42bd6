import { describe, it, expect } from 'vitest';
import { Writable } from 'node:stream';
import { redactSecrets, redactUrl } from '../../src/observe/redact.ts';
import { createLogger } from '../../src/observe/logger.ts';

describe('redactSecrets', () => {
  it.each([
    ['amqp://user:s3cret@host:5672/vh', 'amqp://user:***@host:5672/vh'],
    ['amqps://user:p%40ss%3Aw%2Frd@10.0.0.5', 'amqps://user:***@10.0.0.5'],
    // An unencoded '@' in the password: URL parsers split at the last '@' of the authority.
    ['mqtt://user:p@ss@host:1883', 'mqtt://user:***@host:1883'],
    ['amqp://:only-a-password@host', 'amqp://:***@host'],
    ['a: amqp://u:one@h1, b: amqp://v:two@h2/x', 'a: amqp://u:***@h1, b: amqp://v:***@h2/x'],
    ['{"url":"amqp://u:pw@h","err":"connect ECONNREFUSED 127.0.0.1:5672"}', '{"url":"amqp://u:***@h","err":"connect ECONNREFUSED 127.0.0.1:5672"}'],
  ])('%s', (text, masked) => {
    expect(redactSecrets(text)).toBe(masked);
  });

  it('leaves URLs without a password, and other text, as they are', () => {
    for (const text of ['amqp://user@host:5672', 'http://127.0.0.1:15672/api/queues', 'time 12:30@site', 'mailto:someone@example.com']) {
      expect(redactSecrets(text)).toBe(text);
    }
  });
});

describe('redactUrl', () => {
  it('drops the password and the query', () => {
    expect(redactUrl('amqps://u:p%40ss@broker:5671/vh?heartbeat=5')).toBe('amqps://u@broker:5671/vh');
    expect(redactUrl('mqtt://u:pw@127.0.0.1:1883')).toBe('mqtt://u@127.0.0.1:1883');
    expect(redactUrl('no url')).toBe('<unparseable url>');
  });
});

describe('createLogger', () => {
  it('masks URL passwords anywhere in a line (message, fields, errors, child bindings) and secret-named fields', () => {
    let out = '';
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        out += chunk.toString();
        done();
      },
    });
    const log = createLogger('info', sink).child({ broker: 'amqp://u:child-secret@h' });
    log.warn({ err: new Error('cannot reach amqp://u:err-secret@h:5672'), password: 'field-secret', opts: { password: 'nested-secret' } }, 'failed on mqtt://d:msg-secret@h');
    for (const s of ['child-secret', 'err-secret', 'field-secret', 'nested-secret', 'msg-secret']) expect(out).not.toContain(s);
    const line = JSON.parse(out) as Record<string, unknown>;
    expect(line.msg).toBe('failed on mqtt://d:***@h');
    expect(line.broker).toBe('amqp://u:***@h');
    expect((line.err as { message: string }).message).toBe('cannot reach amqp://u:***@h:5672');
    expect(line.password).toBe('***');
  });
});
