/* Constants of wire protocol v1 (shared/protocol/PROTOCOL.md). */
#ifndef EDGE_PROTO_H
#define EDGE_PROTO_H

#define EDGE_PROTOCOL_VERSION 1u

#define EDGE_PAYLOAD_MAX        4096u  /* batch payload and frame payload */
#define EDGE_DEVICE_ID_MAX      64u
#define EDGE_TOPIC_LEVEL_MAX    64u
#define EDGE_FIRMWARE_MAX       32u
#define EDGE_SENSOR_NAME_MAX    32u
#define EDGE_READINGS_MAX       256u   /* per batch, protocol limit */

/* Command argument ranges (section 6). */
#define EDGE_INTERVAL_MIN_MS    100u
#define EDGE_INTERVAL_MAX_MS    3600000u
#define EDGE_BATCH_SIZE_MIN     1u
#define EDGE_BATCH_SIZE_MAX     64u

/* Serial frame (section 10): version, type, seq(4), payload, crc(2). */
#define EDGE_FRAME_VERSION      1u
#define EDGE_FRAME_HEADER_LEN   6u
#define EDGE_FRAME_CRC_LEN      2u
#define EDGE_FRAME_OVERHEAD     (EDGE_FRAME_HEADER_LEN + EDGE_FRAME_CRC_LEN)
#define EDGE_FRAME_RAW_MAX      (EDGE_PAYLOAD_MAX + EDGE_FRAME_OVERHEAD)

enum {
    EDGE_FRAME_TELEMETRY = 0x01,
    EDGE_FRAME_STATUS    = 0x02,
    EDGE_FRAME_ACK       = 0x03,
    EDGE_FRAME_CMD       = 0x04
};

enum {
    EDGE_ACK_STORED   = 0x00,
    EDGE_ACK_REJECTED = 0x01,
    EDGE_ACK_BUSY     = 0x02
};

#endif
