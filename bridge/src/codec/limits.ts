// Numbers fixed by PROTOCOL.md; every codec module takes its limits from here.

export const PROTOCOL_VERSION = 1;

/** §3.3: a batch (and, by the same reasoning, a status or command) payload is at most this many bytes. */
export const MAX_PAYLOAD_BYTES = 4096;
/** §3 and §4: string fields, in bytes. */
export const MAX_DEVICE_ID_BYTES = 64;
export const MAX_SENSOR_BYTES = 32;
export const MAX_FW_BYTES = 32;

/**
 * §3.1: the canonical batch is a fixmap of these 8 one-letter keys, in this order (each a fixstr
 * 0xa1 and the letter), readings a fixarray [sensor, offset, value] with the value a float32.
 */
export const BATCH_MAP = 0x88;
export const BATCH_KEY = { v: 0x76, d: 0x64, b: 0x62, s: 0x73, f: 0x66, t: 0x74, u: 0x75, r: 0x72 } as const;
export const READING_ARRAY = 0x93;
export const FLOAT32 = 0xca;

/** §3: readings per batch. */
export const MIN_READINGS = 1;
export const MAX_READINGS = 256;

export const UINT32_MAX = 0xffff_ffff;
export const INT32_MIN = -0x8000_0000;
export const INT32_MAX = 0x7fff_ffff;

/** §6: argument ranges per command op. */
export const INTERVAL_MS_MIN = 100;
export const INTERVAL_MS_MAX = 3_600_000;
export const BATCH_SIZE_MIN = 1;
export const BATCH_SIZE_MAX = 64;
