// The command payload (PROTOCOL §6), bridge -> node. Its error codes differ from the
// batch's (they follow cmd.json): anything unparsable, including a non-map, is malformed.

import { asUint32, describe, isPlainMap } from './fields.ts';
import {
  BATCH_SIZE_MAX,
  BATCH_SIZE_MIN,
  INTERVAL_MS_MAX,
  INTERVAL_MS_MIN,
  MAX_PAYLOAD_BYTES,
  PROTOCOL_VERSION,
  UINT32_MAX,
} from './limits.ts';
import { keyBytes, MsgpackWriter } from './msgpack-writer.ts';
import { unpackMsgpack } from './payload-reader.ts';

export const COMMAND_OPS = ['set_interval', 'set_batch', 'ping', 'reboot'] as const;
export type CommandOp = (typeof COMMAND_OPS)[number];

export interface Command {
  v: 1;
  /** Chosen by the sender, non-zero; the node echoes it in its status `cmd`. */
  id: number;
  op: CommandOp;
  /** Interval ms (set_interval), batch size (set_batch), 0 for ping and reboot. */
  arg: number;
}

export type CommandErrorCode = 'malformed' | 'bad_field' | 'bad_op' | 'bad_arg' | 'unsupported_version';

export type CommandResult =
  | { ok: true; value: Command }
  | { ok: false; error: CommandErrorCode; detail: string };

/** Inclusive argument range per op. */
const ARG_RANGE: Record<CommandOp, readonly [number, number]> = {
  set_interval: [INTERVAL_MS_MIN, INTERVAL_MS_MAX],
  set_batch: [BATCH_SIZE_MIN, BATCH_SIZE_MAX],
  ping: [0, 0],
  reboot: [0, 0],
};

function fail(error: CommandErrorCode, detail: string): CommandResult {
  return { ok: false, error, detail };
}

function isCommandOp(x: string): x is CommandOp {
  return Object.hasOwn(ARG_RANGE, x);
}

/** Decodes and validates a command payload. Never throws. */
export function decodeCommand(payload: Buffer): CommandResult {
  if (payload.length > MAX_PAYLOAD_BYTES) return fail('malformed', `payload of ${payload.length} bytes exceeds ${MAX_PAYLOAD_BYTES}`);
  const raw = unpackMsgpack(payload);
  if (!raw.ok) return fail('malformed', raw.detail);
  return validateCommand(raw.value);
}

/**
 * Checks a command given as a plain map with the wire keys (e.g. from a JSON API
 * body) before encodeCommand, with the same codes decodeCommand returns.
 */
export function validateCommand(map: unknown): CommandResult {
  if (!isPlainMap(map)) return fail('malformed', `top level is ${describe(map)}, expected a map`);
  if (map.v === undefined) return fail('bad_field', 'missing v (version)');
  if (asUint32(map.v) !== PROTOCOL_VERSION) {
    return fail('unsupported_version', `v (version) is ${describe(map.v)}, expected ${PROTOCOL_VERSION}`);
  }
  const id = asUint32(map.id);
  if (id === undefined || id === 0) return fail('bad_field', `bad id: expected non-zero uint32, got ${describe(map.id)}`);
  const op = map.op;
  if (typeof op !== 'string') return fail('bad_field', `bad op: expected string, got ${describe(op)}`);
  if (!isCommandOp(op)) return fail('bad_op', `unknown op ${describe(op)}, expected one of ${COMMAND_OPS.join(', ')}`);
  const arg = map.arg;
  if (typeof arg !== 'number' && typeof arg !== 'bigint') return fail('bad_field', `bad arg: expected uint32, got ${describe(arg)}`);
  const [min, max] = ARG_RANGE[op];
  const n = asUint32(arg);
  if (n === undefined || n < min || n > max) return fail('bad_arg', `arg ${describe(arg)} is out of range ${min}..${max} for ${op}`);
  return { ok: true, value: { v: PROTOCOL_VERSION, id, op, arg: n } };
}

const KEY = { v: keyBytes('v'), id: keyBytes('id'), op: keyBytes('op'), arg: keyBytes('arg') };
const writer = new MsgpackWriter();

/** Canonical bytes of a command. Throws RangeError for a command the node would reject. */
export function encodeCommand(command: Command): Buffer {
  const checked = validateCommand(command);
  if (!checked.ok) throw new RangeError(`invalid command (${checked.error}): ${checked.detail}`);
  const w = writer.reset();
  w.mapHeader(4);
  w.raw(KEY.v);
  w.uint(PROTOCOL_VERSION, PROTOCOL_VERSION, 'v');
  w.raw(KEY.id);
  w.uint(command.id, UINT32_MAX, 'id');
  w.raw(KEY.op);
  w.str(command.op);
  w.raw(KEY.arg);
  w.uint(command.arg, UINT32_MAX, 'arg');
  return w.finish();
}
