/* Serial frames (PROTOCOL.md section 10): COBS(version, type, seq, payload,
 * crc16) followed by one 0x00 delimiter. */
#ifndef EDGE_FRAME_H
#define EDGE_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "edge_cobs.h"
#include "edge_err.h"
#include "edge_proto.h"

typedef struct {
    uint8_t type;
    uint32_t seq;
    const uint8_t *payload; /* points into the deframer's buffer */
    size_t payload_len;
} edge_frame_t;

/* Wire bytes (COBS + delimiter) of one frame into out. */
edge_err_t edge_frame_encode(uint8_t type, uint32_t seq,
                             const uint8_t *payload, size_t payload_len,
                             uint8_t *out, size_t cap, size_t *out_len);

/* In-place variant for callers that already wrote the payload at
 * raw + EDGE_FRAME_HEADER_LEN: fills in the header and the CRC and returns
 * the raw length (payload_len + EDGE_FRAME_OVERHEAD). raw must hold that. */
size_t edge_frame_seal(uint8_t *raw, uint8_t type, uint32_t seq,
                       size_t payload_len);
/* Sends a sealed raw frame through COBS and the delimiter to a sink. */
void edge_frame_write_raw(const uint8_t *raw, size_t raw_len,
                          edge_sink_fn sink, void *ctx);

/* Counters per error kind; a bad frame is counted once. */
typedef struct {
    uint32_t frames;
    uint32_t bad_crc;
    uint32_t bad_cobs;
    uint32_t oversized;
    uint32_t truncated;
    uint32_t bad_version;
    uint32_t bad_type;
} edge_deframer_stats_t;

/* Streaming deframer: COBS is decoded as bytes arrive, into a caller-owned
 * fixed buffer (EDGE_FRAME_RAW_MAX bytes for the full protocol; a node that
 * only receives acks and commands may pass less). After any error it drops
 * bytes up to the next 0x00 and resynchronises there. */
typedef struct {
    uint8_t *buf;
    size_t cap;
    size_t len;
    uint8_t block_left;    /* data bytes still owed by the current code */
    bool pending_zero;     /* the previous block implies a 0x00 if more follows */
    bool discarding;       /* error seen: skip to the next delimiter */
    bool started;          /* at least one byte since the last delimiter */
    edge_err_t last_error;
    edge_deframer_stats_t stats;
} edge_deframer_t;

typedef enum {
    EDGE_DEFRAME_MORE = 0, /* need more bytes */
    EDGE_DEFRAME_FRAME,    /* *frame is valid until the next push */
    EDGE_DEFRAME_ERROR     /* a bad frame was counted; see last_error */
} edge_deframe_result_t;

void edge_deframer_init(edge_deframer_t *d, uint8_t *buf, size_t cap);
void edge_deframer_reset(edge_deframer_t *d); /* drop partial input, keep stats */
edge_deframe_result_t edge_deframer_push(edge_deframer_t *d, uint8_t byte,
                                         edge_frame_t *frame);

typedef void (*edge_frame_handler_fn)(void *ctx, const edge_frame_t *frame);
/* Feeds a chunk; calls on_frame for every good frame. Returns frames seen. */
size_t edge_deframer_feed(edge_deframer_t *d, const uint8_t *data, size_t len,
                          edge_frame_handler_fn on_frame, void *ctx);

#endif
