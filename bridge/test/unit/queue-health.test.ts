// The queue-health judgements (pure): each signal against its warning and critical levels.
import { describe, it, expect } from 'vitest';
import { evaluateQueue, evaluateDeadLetter, managementEndpoint, DEFAULT_THRESHOLDS as T } from '../../src/observe/queue-health.ts';
import { loadConfig, ConfigError } from '../../src/config/index.ts';

const q = (over: Partial<Parameters<typeof evaluateQueue>[0]>) => ({ name: 'q', messages: 0, unacked: 0, consumers: 2, maxLength: 100, ...over });

describe('evaluateQueue with the default thresholds', () => {
  it('depth: > 50 % of max-length warns, > 80 % is critical; the bounds themselves are not', () => {
    expect(evaluateQueue(q({ messages: 50 }), T).depth.level).toBe('ok');
    expect(evaluateQueue(q({ messages: 51 }), T).depth.level).toBe('warning');
    expect(evaluateQueue(q({ messages: 80 }), T).depth.level).toBe('warning');
    expect(evaluateQueue(q({ messages: 81 }), T).depth).toEqual({ level: 'critical', value: 0.81, detail: '81 of max-length 100 (81 %) (critical: > 80 %)' });
    expect(evaluateQueue(q({ messages: 10_000, maxLength: null }), T).depth).toEqual({ level: 'ok', value: null, detail: '10000 messages, no max-length' });
  });
  it('consumers: < 2 warns, 0 is critical', () => {
    expect(evaluateQueue(q({ consumers: 2 }), T).consumers.level).toBe('ok');
    expect(evaluateQueue(q({ consumers: 1 }), T).consumers.level).toBe('warning');
    expect(evaluateQueue(q({ consumers: 0 }), T).consumers.detail).toBe('0 consumers (critical: 0 or fewer)');
  });
  it('unacked: > 1000 warns, > 5000 is critical', () => {
    expect(evaluateQueue(q({ unacked: 1000 }), T).unacked.level).toBe('ok');
    expect(evaluateQueue(q({ unacked: 1001 }), T).unacked.level).toBe('warning');
    expect(evaluateQueue(q({ unacked: 5001 }), T).unacked.level).toBe('critical');
  });
  it('dead-letter ratio: > 1 % warns, > 5 % is critical; no traffic is ok', () => {
    expect(evaluateDeadLetter(null, T).level).toBe('ok');
    expect(evaluateDeadLetter(0.01, T).level).toBe('ok');
    expect(evaluateDeadLetter(0.011, T).level).toBe('warning');
    expect(evaluateDeadLetter(0.051, T).level).toBe('critical');
  });
});

describe('queueHealth config', () => {
  it('defaults follow the table', () => {
    const c = loadConfig({}).queueHealth;
    expect(c).toMatchObject({ enabled: true, vhost: '/', intervalMs: 15_000 });
    expect(c.thresholds).toEqual(T);
  });
  it('the endpoint defaults to the AMQP host and credentials; config wins', () => {
    expect(managementEndpoint({}, 'amqp://guest:guest@127.0.0.1:5672')).toEqual({ url: 'http://127.0.0.1:15672', username: 'guest', password: 'guest' });
    expect(managementEndpoint({}, 'amqps://edge:p%40ss@broker.example:5671/vh')).toEqual({ url: 'https://broker.example:15671', username: 'edge', password: 'p@ss' });
    expect(managementEndpoint({}, 'amqp://broker')).toEqual({ url: 'http://broker:15672', username: 'guest', password: 'guest' });
    expect(managementEndpoint({ url: 'http://mgmt:8080', username: 'mon', password: 'x' }, 'amqp://edge:y@broker')).toEqual({ url: 'http://mgmt:8080', username: 'mon', password: 'x' });
  });
  it('rejects credentials in the URL and inverted levels, naming the path', () => {
    try {
      loadConfig({ overrides: ['queueHealth.url=http://admin:hunter2@broker:15672', 'queueHealth.thresholds.consumers.critical=3'] });
      throw new Error('expected a ConfigError');
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const text = (err as ConfigError).problems.join('\n');
      expect(text).toContain('queueHealth.url: expected an http:// or https:// URL without credentials');
      expect(text).not.toContain('hunter2');
      expect(text).toContain('queueHealth.thresholds.consumers.critical: expected at most the warning level (2)');
    }
  });
});
