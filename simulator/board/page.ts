// The board page (bundled for the browser by board.ts): runs edge_core.wasm through
// wasm-core.ts, with the sliders and knob as its sensors, the boot counter in
// localStorage and MQTT over WebSocket from mqtt.js's browser build.
import { unpack } from 'msgpackr';
import { WasmCore, type KvStore, type MqttClientLike } from '../nodes/wasm-core.ts';
import type { BoardConfig } from './board.ts';

interface BrowserMqtt {
  connect(url: string, opts: Record<string, unknown>): MqttClientLike;
}

const $ = (id: string) => document.getElementById(id)!;
const values = { temperature: 22.5, humidity: 45, pot: 50 };
const commands: string[] = [];
/** Telemetry payloads handed to MQTT, hex (for the tests: same bytes as edge-node). */
const published: string[] = [];
let lastBatch: { s: number; r: Array<[string, number, number]> } | undefined;

function localKv(device: string): KvStore {
  const k = (key: string) => `edge-kv:${device}:${key}`;
  return {
    get: (key) => {
      const v = localStorage.getItem(k(key));
      return v === null ? undefined : Number(v);
    },
    set: (key, value) => {
      try {
        localStorage.setItem(k(key), String(value));
        return true;
      } catch {
        return false;
      }
    },
  };
}

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

async function main(): Promise<void> {
  const cfg = (await (await fetch('/config.json')).json()) as BoardConfig;
  const module = await WebAssembly.compileStreaming(fetch('/edge_core.wasm'));
  const mqtt = (globalThis as unknown as { mqtt: BrowserMqtt }).mqtt;
  const ticks = cfg.sensors.map(() => 0);
  let scheduled: ReturnType<typeof setTimeout> | undefined;
  const core = await WasmCore.start(module, {
    device: cfg.device, prefix: cfg.prefix, firmware: cfg.firmware, sensors: cfg.sensors,
    intervalMs: cfg.intervalMs, batchSize: cfg.batchSize, clockStartMs: cfg.clockStartMs,
    readSensor: (i, name) => {
      if (cfg.readings) return cfg.readings[ticks[i]!++ % cfg.readings.length]![i]!;
      return values[name as keyof typeof values] ?? Number.NaN;
    },
    kv: localKv(cfg.device),
    connect: ({ clientId, will }) =>
      mqtt.connect(cfg.wsUrl, { clientId, clean: true, reconnectPeriod: 1000, connectTimeout: 5000, username: cfg.username, password: cfg.password, will }),
    log: (level, msg) => console.log(`edge_core ${level}: ${msg}`),
    onReboot: () => location.reload(),
    onPublish: (topic, payload) => {
      if (!topic.endsWith('/telemetry')) return;
      published.push(hex(payload));
      if (published.length > 1000) published.shift();
      lastBatch = unpack(payload) as typeof lastBatch;
    },
    onCommand: (payload, result) => {
      const c = unpack(payload) as { id?: number; op?: string; arg?: number };
      const at = new Date().toISOString().slice(11, 19);
      commands.unshift(`${at}  #${c.id} ${c.op}${c.arg ? ` ${c.arg}` : ''}${result === 0 ? '' : ` (rejected, error ${result})`}`);
      commands.length = Math.min(commands.length, 20);
    },
    onChange: () => {
      scheduled ??= setTimeout(paint, 30);
    },
  });

  function paint(): void {
    scheduled = undefined;
    const s = core.stats();
    $('device').textContent = `${cfg.device} (boot ${s.boot})`;
    $('settings').textContent = `interval ${s.intervalMs} ms, batch ${s.batchSize}`;
    ($('led-wifi') as unknown as { value: boolean }).value = core.linkUp;
    ($('led-mqtt') as unknown as { value: boolean }).value = s.connected;
    setState($('wifi-state'), core.linkUp, 'up', 'down');
    setState($('mqtt-state'), s.connected, 'connected', 'disconnected');
    $('wifi-toggle').textContent = core.linkUp ? 'Drop Wi-Fi' : 'Restore Wi-Fi';
    $('acked').textContent = String(s.acked);
    $('outbox').textContent = String(s.outbox);
    if (lastBatch) {
      $('batch-seq').textContent = String(lastBatch.s);
      const last = new Map(lastBatch.r.map(([sensor, , value]) => [sensor, value]));
      $('batch').replaceChildren(...[...last].map(([sensor, value]) => {
        const tr = document.createElement('tr');
        tr.dataset.sensor = sensor;
        tr.innerHTML = '<td></td><td class="value"></td>';
        tr.children[0]!.textContent = sensor;
        tr.children[1]!.textContent = String(value);
        return tr;
      }));
    }
    if (commands.length) {
      $('commands').replaceChildren(...commands.map((c) => {
        const li = document.createElement('li');
        li.textContent = c;
        return li;
      }));
    }
  }

  for (const name of ['temperature', 'humidity'] as const) {
    $(name).addEventListener('input', (e) => {
      values[name] = Number((e.target as HTMLInputElement).value);
      $(`${name}-value`).textContent = String(values[name]);
    });
  }
  // wokwi-potentiometer emits 'input' when turned; its value is 0..100.
  $('pot').addEventListener('input', () => {
    values.pot = Number(($('pot') as unknown as { value: number }).value);
    $('pot-value').textContent = String(values.pot);
  });
  $('wifi-toggle').addEventListener('click', () => core.setLink(!core.linkUp));
  $('flush').addEventListener('click', () => core.flush());

  (globalThis as unknown as { board: unknown }).board = { core, stats: () => core.stats(), published, config: cfg };
  paint();
}

function setState(el: HTMLElement, on: boolean, onText: string, offText: string): void {
  el.textContent = on ? onText : offText;
  el.className = `state ${on ? 'on' : 'off'}`;
}

main().catch((err: Error) => {
  document.body.dataset.error = err.message;
  $('device').textContent = `error: ${err.message}`;
});
