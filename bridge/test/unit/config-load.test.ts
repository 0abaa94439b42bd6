import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, defaultConfig, ConfigError } from '../../src/config/index.ts';
import { checkRoutes } from '../../src/routing/reachability.ts';
import { topologyFromConfig } from '../../src/compose.ts';

const dir = mkdtempSync(join(tmpdir(), 'edge-config-'));
let n = 0;
function file(ext: string, text: string): string {
  const p = join(dir, `c${n++}.${ext}`);
  writeFileSync(p, text);
  return p;
}
function problems(opts: Parameters<typeof loadConfig>[0]): string[] {
  try {
    loadConfig(opts);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}
const repoFile = (p: string) => new URL(`../../../${p}`, import.meta.url).pathname;

describe('defaults', () => {
  it('load with no file, env or flags', () => {
    const c = loadConfig({});
    expect(c).toEqual(defaultConfig());
    expect(c.mqtt).toMatchObject({ mode: 'embedded', embedded: { host: '127.0.0.1', port: 1883, maxPayloadBytes: 8192 } });
    expect(c.mqtt.external.topics).toEqual(['+/+/+/telemetry', '+/+/+/status']);
    expect(c.serial.ports).toEqual([]);
    expect(c.amqp).toMatchObject({
      urls: ['amqp://guest:guest@127.0.0.1:5672'],
      connections: 2,
      channelsPerConnection: 2,
      windowPerChannel: 500,
      heartbeatSec: 10,
      contentType: 'application/msgpack',
      reconnect: { initialMs: 500, maxMs: 30_000 },
    });
    expect(c.amqp.topology).toEqual({
      exchange: 'telemetry',
      alternateExchange: 'telemetry.unroutable',
      unroutableQueue: 'telemetry.unroutable',
      deadLetterExchange: 'telemetry.dlx',
      deadLetterQueue: 'telemetry.dlq',
      queues: [{ name: 'telemetry.all', bindings: ['#'] }],
    });
    expect(c.routing.rules).toEqual([{ name: 'default', filter: '#', key: '{topic}', split: 'none' }]);
    expect(c.store).toEqual({ dir: './data/store', maxBytes: 1024 ** 3, maxRecords: 2_000_000, overflow: 'reject', groupCommitMaxDelayMs: 2 });
    expect(c.quarantine.dir).toBe('./data/quarantine');
    expect(c.http).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(c.log.level).toBe('info');
    expect(c.production).toBe(false);
  });

  it('the default rule reaches the default queue', () => {
    const c = defaultConfig();
    const bindings = c.amqp.topology.queues.flatMap((q) => q.bindings.map((pattern) => ({ queue: q.name, pattern })));
    expect(checkRoutes(c.routing.rules, bindings).every((r) => r.reachable)).toBe(true);
  });

  it('an empty file means all defaults', () => {
    expect(loadConfig({ file: file('yaml', '# nothing\n') })).toEqual(defaultConfig());
  });

  it('each call gets its own copy of the defaults', () => {
    const a = loadConfig({});
    a.routing.rules.push({ filter: 'x', key: 'y', split: 'none' });
    a.amqp.urls.push('amqp://x');
    expect(loadConfig({}).routing.rules).toHaveLength(1);
    expect(loadConfig({}).amqp.urls).toHaveLength(1);
  });
});

describe('sources and precedence: file < env < flags', () => {
  const yaml = file('yaml', 'amqp:\n  windowPerChannel: 100\n  connections: 3\nmqtt:\n  embedded:\n    port: 1999\nlog:\n  level: warn\n');

  it('file values replace defaults; unset ones keep their defaults', () => {
    const c = loadConfig({ file: yaml });
    expect(c.amqp.windowPerChannel).toBe(100);
    expect(c.amqp.connections).toBe(3);
    expect(c.amqp.channelsPerConnection).toBe(2);
    expect(c.mqtt.embedded).toMatchObject({ port: 1999, host: '127.0.0.1' });
  });

  it('env beats the file, flags beat env, later flags beat earlier ones', () => {
    const c = loadConfig({
      file: yaml,
      env: { EDGE_BRIDGE__AMQP__WINDOWPERCHANNEL: '200', EDGE_BRIDGE__AMQP__CONNECTIONS: '4', EDGE_BRIDGE__LOG__LEVEL: 'debug', PATH: '/bin', EDGE_BRIDGE_OTHER: 'ignored' },
      overrides: ['amqp.windowPerChannel=300', 'log.level=error', 'log.level=trace'],
    });
    expect(c.amqp.windowPerChannel).toBe(300);
    expect(c.amqp.connections).toBe(4);
    expect(c.log.level).toBe('trace');
    expect(c.mqtt.embedded.port).toBe(1999);
  });

  it('JSON files load too (by extension or by content)', () => {
    expect(loadConfig({ file: file('json', '{"http":{"port":9000}}') }).http.port).toBe(9000);
    expect(loadConfig({ file: file('conf', '{"http":{"port":9001}}') }).http.port).toBe(9001);
    expect(loadConfig({ file: file('conf', 'http:\n  port: 9002\n') }).http.port).toBe(9002);
  });

  it.each([
    ['comma list for a string list', { EDGE_BRIDGE__AMQP__URLS: 'amqp://a:5672, amqps://b:5671' }, (c: ReturnType<typeof loadConfig>) => c.amqp.urls, ['amqp://a:5672', 'amqps://b:5671']],
    ['JSON list for a string list', { EDGE_BRIDGE__AMQP__URLS: '["amqp://a,b"]' }, (c: ReturnType<typeof loadConfig>) => c.amqp.urls, ['amqp://a,b']],
    ['one value for a string list', { EDGE_BRIDGE__MQTT__EXTERNAL__TOPICS: 'a/+/telemetry' }, (c: ReturnType<typeof loadConfig>) => c.mqtt.external.topics, ['a/+/telemetry']],
    ['numbers as JSON', { EDGE_BRIDGE__HTTP__PORT: '0' }, (c: ReturnType<typeof loadConfig>) => c.http.port, 0],
    ['booleans as JSON', { EDGE_BRIDGE__QUEUE_HEALTH__ENABLED: 'false' }, (c: ReturnType<typeof loadConfig>) => c.queueHealth.enabled, false],
    ['a string that looks like a number stays a string', { EDGE_BRIDGE__STORE__DIR: '123' }, (c: ReturnType<typeof loadConfig>) => c.store.dir, '123'],
    ['names are case-insensitive and may use _', { edge_bridge__amqp__window_per_channel: '7' }, (c: ReturnType<typeof loadConfig>) => c.amqp.windowPerChannel, 500],
    ['snake case inside a key', { EDGE_BRIDGE__AMQP__WINDOW_PER_CHANNEL: '7' }, (c: ReturnType<typeof loadConfig>) => c.amqp.windowPerChannel, 7],
    ['list indexes', { EDGE_BRIDGE__AMQP__TOPOLOGY__QUEUES__0__NAME: 'q', EDGE_BRIDGE__AMQP__TOPOLOGY__QUEUES__0__BINDINGS: 'a.*,b.#' }, (c: ReturnType<typeof loadConfig>) => c.amqp.topology.queues, [{ name: 'q', bindings: ['a.*', 'b.#'] }]],
    ['a whole object as JSON', { EDGE_BRIDGE__ROUTING__RULES: '[{"filter":"#","key":"all.{device}"}]' }, (c: ReturnType<typeof loadConfig>) => c.routing.rules, [{ filter: '#', key: 'all.{device}', split: 'none' }]],
  ] as const)('env: %s', (_n, env, pick, expected) => {
    expect(pick(loadConfig({ env: env as NodeJS.ProcessEnv }))).toEqual(expected);
  });

  it('flags: bracket indexes, values with =, JSON objects', () => {
    const c = loadConfig({
      overrides: ['serial.ports[0].path=/dev/ttyX', 'serial.ports[1]={"tcp":"localhost:4000"}', 'amqp.urls=amqp://u:p@h:5672/v?x=1'],
    });
    expect(c.serial.ports).toEqual([{ path: '/dev/ttyX', baudRate: 115200, devices: 'any' }, { tcp: 'localhost:4000', devices: 'any' }]);
    expect(c.amqp.urls).toEqual(['amqp://u:p@h:5672/v?x=1']);
  });

  it('a flag merges into a list element from the file', () => {
    const f = file('yaml', 'routing:\n  rules:\n    - { filter: "a/+x", key: "a.{x}" }\n');
    const c = loadConfig({ file: f, overrides: ['routing.rules.0.split=reading'] });
    expect(c.routing.rules).toEqual([{ filter: 'a/+x', key: 'a.{x}', split: 'reading' }]);
  });
});

describe('errors name the path, what was expected, what was found and where from', () => {
  it('the example from the brief', () => {
    expect(problems({ env: { EDGE_BRIDGE__AMQP__WINDOWPERCHANNEL: 'abc' } })).toEqual([
      'amqp.windowPerChannel: expected a positive integer, found "abc" (from env EDGE_BRIDGE__AMQP__WINDOWPERCHANNEL)',
    ]);
  });

  it('every bad path is reported at once, with its source', () => {
    const f = file('yaml', 'mqtt:\n  mode: bogus\nhttp:\n  port: 70000\n');
    const p = problems({ file: f, env: { EDGE_BRIDGE__STORE__MAXBYTES: '-1' }, overrides: ['production=yes', 'amqp.urls=http://x'] });
    expect(p).toEqual(
      expect.arrayContaining([
        `mqtt.mode: expected one of 'embedded', 'external', 'off', found "bogus" (from file ${f})`,
        `http.port: expected a port number 0..65535, found 70000 (from file ${f})`,
        'store.maxBytes: expected a positive integer, found -1 (from env EDGE_BRIDGE__STORE__MAXBYTES)',
        'production: expected true or false, found "yes" (from --set production)',
        'amqp.urls[0]: expected an amqp:// or amqps:// URL, found "http://x" (from --set amqp.urls)',
      ]),
    );
    expect(p).toHaveLength(5);
  });

  it('ConfigError.message lists every problem', () => {
    try {
      loadConfig({ overrides: ['http.port=x', 'log.level=loud'] });
      expect.unreachable();
    } catch (err) {
      expect((err as Error).message).toMatch(/invalid config \(2 problems\):\n {2}.*http\.port.*\n {2}.*log\.level/);
    }
  });

  it('a missing required value says it found nothing', () => {
    expect(problems({ overrides: ['mqtt.mode=external'] })).toEqual([
      "mqtt.external.url: expected an MQTT URL when mqtt.mode is 'external', found nothing",
    ]);
  });

  it('unreadable and unparsable files', () => {
    expect(problems({ file: join(dir, 'missing.yaml') })[0]).toMatch(/cannot read config file .*missing\.yaml: ENOENT/);
    expect(problems({ file: file('json', '{"a":') })[0]).toMatch(/is not valid JSON/);
    expect(problems({ file: file('yaml', 'a: [1,\n') })[0]).toMatch(/is not valid YAML/);
    expect(problems({ file: file('yaml', '- 1\n- 2\n') })[0]).toMatch(/expected a map of settings at the top level, found \[1,2\]/);
  });

  it('never echoes passwords', () => {
    const f = file('yaml', 'mqtt:\n  external:\n    password: 123456\n');
    const p = problems({ file: f, overrides: ['amqp.urls=http://user:s3cret@host'] });
    expect(p.join('\n')).not.toMatch(/s3cret|123456/);
    expect(p).toEqual(
      expect.arrayContaining([
        'amqp.urls[0]: expected an amqp:// or amqps:// URL, found "http://user:***@host" (from --set amqp.urls)',
        `mqtt.external.password: expected a string, found (hidden) (from file ${f})`,
      ]),
    );
  });

  it('a flag without = is reported', () => {
    expect(problems({ overrides: ['production'] })).toEqual(['--set production: expected path=value']);
  });

  it('cross-field: reconnect.maxMs below initialMs, duplicate queue names', () => {
    const p = problems({ overrides: ['amqp.reconnect.maxMs=100', 'amqp.topology.queues=[{"name":"q"},{"name":"q"}]'] });
    expect(p).toEqual([
      'amqp.reconnect.maxMs: expected at least amqp.reconnect.initialMs (500), found 100 (from --set amqp.reconnect.maxMs)',
      'amqp.topology.queues[1].name: expected a queue name not used before, found "q" (from --set amqp.topology.queues)',
    ]);
  });
});

describe('mqtt.embedded.limits', () => {
  it('is on by default: 64 KiB packets, 200 PUBLISH/s with a burst of 400, disconnect after a minute paced', () => {
    expect(loadConfig({}).mqtt.embedded.limits).toEqual({ maxPacketBytes: 65_536, publishesPerSecond: 200, publishBurst: 400, disconnectAfterPacedMs: 60_000, maxConnections: 16_000, maxConnectionsPerAddress: 1000 });
  });

  it('a packet limit too small for maxPayloadBytes, and values outside MQTT, are errors', () => {
    expect(problems({ overrides: ['mqtt.embedded.maxPayloadBytes=70000'] })).toEqual([
      'mqtt.embedded.limits.maxPacketBytes: expected at least maxPayloadBytes + 1024 (71024), found 65536',
    ]);
    expect(problems({ overrides: ['mqtt.embedded.limits.maxPacketBytes=300000000', 'mqtt.embedded.limits.publishBurst=0'] })).toEqual([
      'mqtt.embedded.limits.maxPacketBytes: expected an integer 2..268435455, found 300000000 (from --set mqtt.embedded.limits.maxPacketBytes)',
      'mqtt.embedded.limits.publishBurst: expected a positive integer, found 0 (from --set mqtt.embedded.limits.publishBurst)',
    ]);
    expect(loadConfig({ overrides: ['mqtt.embedded.limits.publishesPerSecond=0'] }).mqtt.embedded.limits.publishesPerSecond).toBe(0);
  });
});

describe('unknown keys are errors', () => {
  it('in a file, with a suggestion', () => {
    const f = file('yaml', 'amqp:\n  windowPerChanel: 100\n');
    const [p, ...rest] = problems({ file: f });
    expect(rest).toEqual([]);
    expect(p).toMatch(/^amqp\.windowPerChanel: unknown key \(did you mean "windowPerChannel"\?\); expected one of urls, connections, .* \(from file /);
  });

  it('at the top level and inside list elements', () => {
    const f = file('yaml', 'amqq: {}\namqp:\n  topology:\n    queues:\n      - { name: q, bindngs: ["#"] }\n');
    const p = problems({ file: f });
    expect(p).toHaveLength(2);
    p.sort();
    expect(p[1]).toMatch(/^amqq: unknown key \(did you mean "amqp"\?\)/);
    expect(p[0]).toMatch(/^amqp\.topology\.queues\[0\]\.bindngs: unknown key \(did you mean "bindings"\?\)/);
  });

  it('in env and flags', () => {
    expect(problems({ env: { EDGE_BRIDGE__AMQP__TOPOLOGY__EXCHNGE: 'x' } })).toEqual([
      'amqp.topology.EXCHNGE: unknown setting (did you mean "exchange"?); expected one of exchange, alternateExchange, unroutableQueue, unroutableQueueType, deadLetterExchange, deadLetterQueue, deadLetterQueueType, queues (from env EDGE_BRIDGE__AMQP__TOPOLOGY__EXCHNGE)',
    ]);
    expect(problems({ overrides: ['http.port.x=1'] })[0]).toMatch(/^http\.port: expected nothing after it/);
    expect(problems({ overrides: ['serial.ports.first.path=x'] })[0]).toMatch(/^serial\.ports: expected a list index after it, found "first"/);
  });

  it('a serial port that is neither form', () => {
    expect(problems({ overrides: ['serial.ports=[{"device":"/dev/x"}]'] })[0]).toMatch(/^serial\.ports\[0\]/);
  });
});

describe('routing rules are compiled while loading', () => {
  it.each([
    ['routing.rules[1].filter', '{ filter: "a/#/b", key: "k" }', /expected '#' only as the last level/],
    ['routing.rules[1].key', '{ filter: "a/+x", key: "a.{y}" }', /\{y\}/],
    ['routing.rules[1].key', '{ filter: "#", key: "s.{sensor}" }', /split 'sensor' or 'reading'/],
    ['routing.rules[1].split', '{ filter: "#", key: "k", split: "each" }', /expected one of 'none', 'sensor', 'reading', found "each"/],
    ['routing.rules[1].key', '{ filter: "#" }', /expected a routing-key template, found nothing/],
  ])('%s: %s', (path, rule, message) => {
    const f = file('yaml', `routing:\n  rules:\n    - { filter: "#", key: "{topic}" }\n    - ${rule}\n`);
    const p = problems({ file: f });
    expect(p).toHaveLength(1);
    expect(p[0]!.startsWith(`${path}: `)).toBe(true);
    expect(p[0]).toMatch(message);
    expect(p[0]).toContain(`(from file ${f})`);
  });
});

describe('shipped config files', () => {
  it('config/edge-bridge.example.yaml loads with its HTTP token from the environment, and every rule reaches a queue', () => {
    const file = repoFile('config/edge-bridge.example.yaml');
    expect(() => loadConfig({ file, env: {} })).toThrow(/http\.token: expected a token/);
    const c = loadConfig({ file, env: { EDGE_BRIDGE__HTTP__TOKEN: 'example-token-0123456789' } });
    expect(c.production).toBe(true);
    expect(c.http.token).toBe('example-token-0123456789');
    expect(c.mqtt.topicPrefixes).toEqual(['factory/floor1', 'factory/floor2']);
    expect(c.mqtt.embedded.port).toBe(1883);
    expect(c.routing.rules[0]).toEqual({ name: 'factory', filter: 'factory/+floor/+device/telemetry', key: 'factory.{floor}.{sensor}', split: 'sensor' });
    const bindings = c.amqp.topology.queues.flatMap((q) => q.bindings.map((pattern) => ({ queue: q.name, pattern })));
    expect(bindings.map((b) => b.pattern)).toEqual(expect.arrayContaining(['factory.floor1.*', 'factory.*.temperature', 'factory.#']));
    const reach = checkRoutes(c.routing.rules, bindings);
    expect(reach.every((r) => r.reachable)).toBe(true);
    expect(reach[0]!.queues).toEqual(['floor1.all', 'temperature.all', 'factory.archive', 'telemetry.other']);
    // on a cluster every queue the topology declares must outlive its node
    expect(topologyFromConfig(c)).toMatchObject({ alternate: { type: 'quorum' }, deadLetter: { type: 'quorum' } });
    expect(c.amqp.topology.queues.every((q) => q.type === 'quorum')).toBe(true);
  });

  it('config/dev.yaml loads: port 1884, data under ./data', () => {
    const c = loadConfig({ file: repoFile('config/dev.yaml') });
    expect(c.mqtt.embedded.port).toBe(1884);
    expect(c.store.dir).toBe('./data/store');
  });
});
