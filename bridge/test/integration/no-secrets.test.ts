// No secret leaves the bridge: with distinctive passwords everywhere the config takes
// one (AMQP URLs, a wrong AMQP password, a URL nobody listens on, the management API,
// MQTT logins right and wrong, an external broker URL with credentials), every log line
// at trace level, /metrics, /healthz, /readyz, the dashboard's SSE snapshot, and the
// output of the CLI (start, check-config with bad values, tail failing) are
// searched for each secret, raw, URL-encoded, and as HTTP Basic credentials.
// One private RabbitMQ node (with the management API) has a user with such a password.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import mqtt from 'mqtt';
import { encodeBatch } from '../../src/codec/index.ts';
import { loadConfig } from '../../src/config/index.ts';
import { composeBridge, type Bridge } from '../../src/compose.ts';
import { createLogger } from '../../src/observe/logger.ts';
import { startHttp, type HttpHandle } from '../../src/observe/http.ts';
import { addCredential } from '../../src/ingress/mqtt-auth.ts';
import { startPrivateRabbit, type PrivateRabbit } from '../../../shared/testkit/rabbit-node.ts';
import { freePort } from '../../../shared/testkit/ports.ts';
import { uniquePrefix, waitFor } from '../../../shared/testkit/unique.ts';
import { metric } from '../helpers/metrics.ts';

const BIN = resolve('bridge/bin/edge-bridge.js');
const USER = 'edge-user';
// Characters a URL must encode, so the encoded form is checked too.
const SECRETS = {
  amqp: 'QxJ7vq:Wz3hPk@Rt9Lm/Ug2%Yb8N',
  amqpWrong: 'Hd4Fs-wrongAmqp-Lp0Qe',
  management: 'Mn5Gt-mgmtPw@Zr6Vc',
  mqttDevice: 'Cy2Kw-devicePw-Jf8Sd',
  mqttWrong: 'Tb9Xn-wrongMqtt-Ga3Pe',
  externalUrl: 'Ew1Rj-extUrlPw@Nq4Ls',
  external: 'Vk6Hm-extPw-Bo5Ui',
  config: 'Pz3Yd-configPw@Fa7Wc',
} as const;

/** Every form a secret could take in output: raw, URL-encoded, HTTP Basic, and its longer fragments. */
function forms(secret: string): string[] {
  const out = new Set([secret, encodeURIComponent(secret), Buffer.from(`${USER}:${secret}`).toString('base64')]);
  for (const part of secret.split(/[^A-Za-z0-9]+/)) if (part.length >= 5) out.add(part);
  return [...out];
}

function expectNoSecret(where: string, text: string): void {
  for (const [name, secret] of Object.entries(SECRETS)) {
    for (const form of forms(secret)) {
      if (text.includes(form)) {
        const at = text.indexOf(form);
        throw new Error(`${where} holds the ${name} secret (as "${form}"): ...${text.slice(Math.max(0, at - 200), at + form.length + 50)}...`);
      }
    }
  }
}

function run(args: string[], opts: { cwd: string; timeoutMs?: number }): Promise<{ code: number | null; out: string }> {
  return new Promise((resolveRun) => {
    const p = spawn(process.execPath, [BIN, ...args], { cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolveRun({ code, out });
    });
  });
}

describe('no secret in logs, metrics, health, dashboard or CLI output', () => {
  const prefix = uniquePrefix('nosecret');
  const dir = mkdtempSync(join(tmpdir(), 'edge-nosecret-'));
  const device = `${prefix}-n1`;
  let rabbit: PrivateRabbit;
  let pipeline: Bridge | undefined;
  let http: HttpHandle | undefined;
  let goodUrl = '';
  let deadPort = 0;
  const logText: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logText.push(chunk.toString('utf8'));
      done();
    },
  });

  const topology = (p: string) => ({
    exchange: `${p}.tele`, alternateExchange: `${p}.ae`, unroutableQueue: `${p}.unroutable`,
    deadLetterExchange: `${p}.dlx`, deadLetterQueue: `${p}.dlq`,
    queues: [{ name: `${p}.all`, bindings: ['#'] }],
  });
  const amqpUrl = (password: string, port: number) => `amqp://${USER}:${encodeURIComponent(password)}@127.0.0.1:${port}`;

  beforeAll(async () => {
    rabbit = await startPrivateRabbit({ label: 'nosecret', plugins: ['rabbitmq_management'] });
    // A user with a password full of URL characters, made through the management API (guest works from loopback).
    const api = (path: string, body: unknown) =>
      fetch(`${rabbit.managementUrl}/api/${path}`, { method: 'PUT', headers: { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}`, 'content-type': 'application/json' }, body: JSON.stringify(body) }).then((r) => {
        if (!r.ok) throw new Error(`PUT ${path}: HTTP ${r.status}`);
      });
    await api(`users/${USER}`, { password: SECRETS.amqp, tags: 'monitoring' });
    await api(`permissions/%2F/${USER}`, { configure: '.*', write: '.*', read: '.*' });
    goodUrl = amqpUrl(SECRETS.amqp, rabbit.amqpPort);
    deadPort = await freePort();
  }, 180_000);

  afterAll(async () => {
    await http?.close().catch(() => undefined);
    await pipeline?.stop().catch(() => undefined);
    await rabbit?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a bridge working and failing with secrets everywhere: logs, /metrics, /healthz, /readyz and the SSE snapshot hold none', async () => {
    const creds = join(dir, 'creds.json');
    await addCredential(creds, device, SECRETS.mqttDevice);
    const file = join(dir, 'bridge.json');
    writeFileSync(
      file,
      JSON.stringify({
        mqtt: { mode: 'embedded', embedded: { host: '127.0.0.1', port: 0, auth: { credentialsFile: creds } } },
        amqp: {
          // One connection each: a good URL, a port nobody listens on, a wrong password.
          urls: [goodUrl, amqpUrl(SECRETS.amqp, deadPort), amqpUrl(SECRETS.amqpWrong, rabbit.amqpPort)],
          connections: 3,
          reconnect: { initialMs: 100, maxMs: 400 },
          topology: topology(prefix),
        },
        queueHealth: { url: rabbit.managementUrl, username: USER, password: SECRETS.management, intervalMs: 200 },
        downlink: { enabled: true, exchange: `${prefix}.cmd`, queue: `${prefix}.cmd`, dir: join(dir, 'commands') },
        routing: { rules: [{ name: 'r', filter: `${prefix}/+device/telemetry`, key: 'ns.{device}', split: 'none' }] },
        store: { dir: join(dir, 'store') },
        quarantine: { dir: join(dir, 'quarantine') },
        observe: { dashboard: { intervalMs: 100 } },
      }),
    );
    pipeline = composeBridge(loadConfig({ file, env: {} }), createLogger('trace', sink));
    await pipeline.start();
    http = await startHttp({ host: '127.0.0.1', port: 0 }, pipeline.health, createLogger('trace', sink));
    const base = `http://127.0.0.1:${http.port}`;

    // MQTT: a wrong password, then the right one and a batch all the way to RabbitMQ.
    const url = `mqtt://127.0.0.1:${pipeline.mqttPort()}`;
    await expect(mqtt.connectAsync(url, { clientId: device, username: device, password: SECRETS.mqttWrong, reconnectPeriod: 0 }, false)).rejects.toThrow(/Not authorized|Bad username or password/);
    const client = await mqtt.connectAsync(url, { clientId: device, username: device, password: SECRETS.mqttDevice, reconnectPeriod: 0 });
    try {
      await client.publishAsync(`${prefix}/${device}/telemetry`, encodeBatch({ v: 1, device, boot: 1, seq: 0, fw: 't', ts: Date.now(), unsynced: false, readings: [{ sensor: 'temperature', offset: 0, value: 20 }] }), { qos: 1 });
    } finally {
      await client.endAsync(true);
    }
    await waitFor(async () => (await metric(pipeline!.health, 'edge_amqp_publish_results_total', { result: 'confirmed' })) === 1, { timeoutMs: 15_000, what: 'the batch confirmed' });

    // The failure paths really ran (otherwise finding no secret would prove nothing).
    const logs = () => logText.join('');
    await waitFor(() => /ECONNREFUSED/.test(logs()) && /ACCESS_REFUSED|ACCESS-REFUSED/.test(logs()) && /refused the credentials/.test(logs()), {
      timeoutMs: 15_000,
      what: 'connection refused, AMQP login refused and management 401 in the logs',
    });
    expect(logs()).toContain('mqtt authentication failed');
    expect(logs()).toContain('amqp connected');
    expect(logs()).toContain('downlink consuming');

    const bodies: Record<string, string> = {};
    for (const path of ['/metrics', '/healthz', '/readyz']) bodies[path] = await (await fetch(base + path)).text();
    expect(bodies['/readyz']).toContain('refused the credentials');
    expect(bodies['/readyz']).toContain(`"url":"amqp://${USER}@127.0.0.1:${rabbit.amqpPort}"`); // the URL is there, its password not
    // The dashboard's first SSE snapshot (sent on connect).
    const abort = new AbortController();
    const res = await fetch(`${base}/events`, { signal: abort.signal });
    const reader = res.body!.getReader();
    let sse = '';
    while (!/event: snapshot\ndata: .*\n\n/.test(sse)) {
      const { value, done } = await reader.read();
      if (done) break;
      sse += Buffer.from(value).toString('utf8');
    }
    abort.abort();
    expect(sse).toContain('"amqp"');
    bodies['/events'] = sse;

    await pipeline.stop();
    pipeline = undefined;
    expect(logs().split('\n').length).toBeGreaterThan(10);
    expectNoSecret('the log', logs());
    for (const [path, text] of Object.entries(bodies)) expectNoSecret(path, text);
  });

  it('the CLI: start (external broker URL with credentials), check-config with bad values, tail failing', async () => {
    const httpPort = await freePort();
    const startFile = join(dir, 'start.json');
    writeFileSync(
      startFile,
      JSON.stringify({
        mqtt: {
          mode: 'external',
          // The shared Mosquitto accepts any login; a run-unique filter so no other test's messages queue up for this session.
          external: { url: `mqtt://ext-user:${encodeURIComponent(SECRETS.externalUrl)}@127.0.0.1:1883`, clientId: `${prefix}-ext`, topics: [`${prefix}/+/telemetry`], username: 'ext-user', password: SECRETS.external },
        },
        amqp: { urls: [goodUrl], connections: 1, topology: topology(`${prefix}-cli`) },
        // Management credentials taken from the AMQP URL: the path that succeeds.
        queueHealth: { url: rabbit.managementUrl, intervalMs: 200 },
        http: { host: '127.0.0.1', port: httpPort },
        store: { dir: join(dir, 'cli-store') },
        quarantine: { dir: join(dir, 'cli-quarantine') },
        log: { level: 'trace' },
      }),
    );
    const badFile = join(dir, 'bad.json');
    writeFileSync(
      badFile,
      JSON.stringify({
        mqtt: { mode: 'external', external: { url: `http://u:${SECRETS.config}@host`, password: 42 } },
        amqp: { urls: [`http://${USER}:${SECRETS.config}@host`, `amqp://${USER}:${SECRETS.config}@host:99999999`] },
        queueHealth: { url: `http://${USER}:${SECRETS.config}@host:15672`, password: 7 },
      }),
    );
    const dead = amqpUrl(SECRETS.amqp, deadPort);

    const start = spawn(process.execPath, [BIN, 'start', '-c', startFile], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let startOut = '';
    start.stdout.on('data', (d: Buffer) => (startOut += d.toString()));
    start.stderr.on('data', (d: Buffer) => (startOut += d.toString()));
    const exited = new Promise<number | null>((r) => start.on('close', (code) => r(code)));
    let readyz = '';
    try {
      const [check, tail] = await Promise.all([
        run(['check-config', '-c', badFile], { cwd: dir }),
        run(['tail', '#', '--count', '1', '--set', `amqp.urls=${dead}`], { cwd: dir }),
        waitFor(() => startOut.includes('management API reachable') && startOut.includes('external MQTT connected'), { timeoutMs: 30_000, what: `the CLI bridge up:\n${startOut}` }),
      ]);
      readyz = await (await fetch(`http://127.0.0.1:${httpPort}/readyz`)).text();
      expect(check.code).toBe(2);
      expect(check.out).toContain('amqp.urls[0]: expected an amqp:// or amqps:// URL');
      expect(check.out).toContain('mqtt.external.password: expected a string, found (hidden)');
      expect(tail.code).toBe(1);
      expect(tail.out).toContain(`amqp://${USER}:***@127.0.0.1:${deadPort}`);
      for (const [name, r] of Object.entries({ 'check-config': check, tail })) expectNoSecret(`edge-bridge ${name}`, r.out);
    } finally {
      start.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(startOut).toContain('amqp connected');
    expectNoSecret('edge-bridge start', startOut);
    expectNoSecret('/readyz of edge-bridge start', readyz);
    // The external broker keeps the bridge's session (it never expires): drop it.
    const cleaner = await mqtt.connectAsync('mqtt://127.0.0.1:1883', { clientId: `${prefix}-ext`, clean: true, reconnectPeriod: 0 });
    await cleaner.endAsync();
  });
});
