// The firmware core (edge_core.wasm) as a virtual node under Node: wasm-core.ts with
// mqtt.js from npm and the boot counter in files (tmp + fsync + rename, as edge-node does).
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import { WasmCore, type KvStore, type WasmCoreOptions } from './wasm-core.ts';

/** Built by `make -C firmware wasm` (part of `all`, the pretest step). */
export const WASM_PATH = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'firmware', 'build', 'wasm', 'edge_core.wasm');

let compiled: WebAssembly.Module | undefined;

/** The module, compiled once per process (each node is its own instance). */
export function coreModule(): WebAssembly.Module {
  if (!compiled) {
    try {
      compiled = new WebAssembly.Module(readFileSync(WASM_PATH));
    } catch (err) {
      throw new Error(`cannot load ${WASM_PATH} (build it with make -C firmware wasm): ${(err as Error).message}`, { cause: err });
    }
  }
  return compiled;
}

/** u32 values as files under `dir`, durable when set returns. */
export function fileKv(dir: string): KvStore {
  mkdirSync(dir, { recursive: true });
  return {
    get(key) {
      try {
        const v = Number.parseInt(readFileSync(join(dir, key), 'utf8'), 10);
        return Number.isInteger(v) ? v : undefined;
      } catch {
        return undefined;
      }
    },
    set(key, value) {
      try {
        const file = join(dir, key);
        writeFileSync(`${file}.tmp`, `${value}\n`);
        const fd = openSync(`${file}.tmp`, 'r');
        fsyncSync(fd);
        closeSync(fd);
        renameSync(`${file}.tmp`, file);
        return true;
      } catch {
        return false;
      }
    },
  };
}

export interface WasmNodeOptions extends Omit<WasmCoreOptions, 'kv' | 'connect'> {
  /** mqtt://host:port or ws://host:port/path */
  url: string;
  stateDir: string;
  username?: string;
  password?: string;
}

/** Starts one node; stop it with `core.stop()`. */
export function startWasmNode(o: WasmNodeOptions): Promise<WasmCore> {
  return WasmCore.start(coreModule(), {
    ...o,
    kv: fileKv(o.stateDir),
    connect: ({ clientId, will }) =>
      mqtt.connect(o.url, {
        clientId, clean: true, reconnectPeriod: 1000, connectTimeout: 5000, username: o.username, password: o.password,
        will: { ...will, payload: Buffer.from(will.payload) },
      }) as unknown as ReturnType<WasmCoreOptions['connect']>,
  });
}
