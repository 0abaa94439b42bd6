// Public API of the codec: batch, status and command payloads, and serial frames.

export { decodeBatch, decodeBatchLenient, encodeBatch, encodeBatchJson, validateBatchMap, float32Text } from './batch.ts';
export type { BatchForm } from './batch.ts';
export { decodeStatus, encodeStatus, encodeLastWill } from './status.ts';
export type { DeviceStatus, StatusMessage, StatusState } from './status.ts';
export { decodeCommand, encodeCommand, validateCommand, COMMAND_OPS } from './command.ts';
export type { Command, CommandOp, CommandErrorCode, CommandResult } from './command.ts';
export { isDeviceId } from './fields.ts';
export { isCanonicalBatch } from './canonical.ts';
export { crc16 } from './crc16.ts';
export { cobsEncode, cobsDecode, cobsMaxEncodedLength } from './cobs.ts';
export type { CobsResult } from './cobs.ts';
export {
  encodeFrame,
  encodeRawFrame,
  encodeAck,
  parseRawFrame,
  FrameType,
  AckCode,
  FRAME_VERSION,
  FRAME_ERROR_KINDS,
  MAX_FRAME_PAYLOAD,
  MAX_RAW_FRAME,
  MAX_ENCODED_FRAME,
} from './frame.ts';
export type { Frame, FrameTypeCode, FrameErrorKind, FrameResult, AckCodeValue } from './frame.ts';
export { FrameDecoder } from './frame-decoder.ts';
export type { FrameDecoderHandlers } from './frame-decoder.ts';
export { MAX_PAYLOAD_BYTES, MAX_READINGS, PROTOCOL_VERSION } from './limits.ts';
