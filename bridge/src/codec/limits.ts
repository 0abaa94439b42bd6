// Numbers fixed by PROTOCOL.md; every codec module takes its limits from here.

export const PROTOCOL_VERSION = 1;

/** §3.3: a batch (and, by the same reasoning, a status or command) payload is at most this many bytes. */
export const MAX_PAYLOAD_BYTES = 4096;
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
