import { describe, expect, it } from 'vitest';
import { actionFor, LinkLostError, PoolClosedError, redactUrl, TopologyError, UnpublishableError } from '../../src/egress/amqp/index.ts';

describe('egress error actions', () => {
  it('maps each publish outcome to what the caller must do', () => {
    expect(actionFor({ kind: 'confirmed' })).toBe('done');
    expect(actionFor({ kind: 'returned' })).toBe('park');
    expect(actionFor({ kind: 'nacked' })).toBe('retry');
    expect(actionFor({ kind: 'failed', error: new LinkLostError() })).toBe('retry');
    expect(actionFor({ kind: 'failed', error: new PoolClosedError() })).toBe('retry');
    expect(actionFor({ kind: 'failed', error: new UnpublishableError('too big') })).toBe('park');
    expect(actionFor({ kind: 'failed', error: new TopologyError('406') })).toBe('fatal');
    // Unknown errors: the message is still in the store, so trying again later is the safe default.
    expect(actionFor({ kind: 'failed', error: new Error('???') })).toBe('retry');
  });
});

describe('redactUrl', () => {
  it('drops the password and query, keeps user, host and port', () => {
    expect(redactUrl('amqp://guest:secret@10.0.0.5:5672?heartbeat=5')).toBe('amqp://guest@10.0.0.5:5672');
    expect(redactUrl('amqps://u:p%40ss@broker.example:5671/vh')).toBe('amqps://u@broker.example:5671/vh');
    expect(redactUrl('not a url')).toBe('<unparseable url>');
  });
});
