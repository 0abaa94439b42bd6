#include "edge_frame.h"

#include <string.h>

#include "edge_crc16.h"

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

size_t edge_frame_seal(uint8_t *raw, uint8_t type, uint32_t seq, size_t payload_len)
{
    raw[0] = EDGE_FRAME_VERSION;
    raw[1] = type;
    put_be32(raw + 2, seq);
    size_t body = EDGE_FRAME_HEADER_LEN + payload_len;
    uint16_t crc = edge_crc16(raw, body);
    raw[body] = (uint8_t)(crc >> 8);
    raw[body + 1] = (uint8_t)crc;
    return body + EDGE_FRAME_CRC_LEN;
}

void edge_frame_write_raw(const uint8_t *raw, size_t raw_len, edge_sink_fn sink, void *ctx)
{
    static const uint8_t delimiter = 0x00;
    edge_cobs_encode_to(raw, raw_len, sink, ctx);
    sink(ctx, &delimiter, 1);
}

/* COBS writer into a buffer that takes input in pieces, so header, payload
 * and CRC need not be contiguous (no temporary copy of the payload). */
typedef struct {
    uint8_t *out;
    size_t cap;
    size_t len;
    size_t code_at; /* where the current block's code byte goes */
    uint8_t code;
    bool overflow;
} cobs_writer_t;

static void cw_start_block(cobs_writer_t *c)
{
    if (c->len >= c->cap) {
        c->overflow = true;
        return;
    }
    c->code_at = c->len++;
    c->code = 1;
}

static void cw_end_block(cobs_writer_t *c)
{
    c->out[c->code_at] = c->code;
}

static void cw_put(cobs_writer_t *c, const uint8_t *data, size_t len)
{
    for (size_t i = 0; i < len && !c->overflow; i++) {
        if (data[i] == 0) {
            cw_end_block(c);
            cw_start_block(c);
            continue;
        }
        if (c->len >= c->cap) {
            c->overflow = true;
            return;
        }
        c->out[c->len++] = data[i];
        if (++c->code == 0xFF) {
            cw_end_block(c);
            cw_start_block(c);
        }
    }
}

edge_err_t edge_frame_encode(uint8_t type, uint32_t seq,
                             const uint8_t *payload, size_t payload_len,
                             uint8_t *out, size_t cap, size_t *out_len)
{
    if (payload_len > EDGE_PAYLOAD_MAX) {
        return EDGE_ERR_TOO_LARGE;
    }
    uint8_t header[EDGE_FRAME_HEADER_LEN] = {EDGE_FRAME_VERSION, type};
    put_be32(header + 2, seq);
    uint16_t crc = edge_crc16(header, sizeof header);
    crc = edge_crc16_update(crc, payload, payload_len);
    const uint8_t trailer[EDGE_FRAME_CRC_LEN] = {(uint8_t)(crc >> 8), (uint8_t)crc};

    cobs_writer_t c = {out, cap, 0, 0, 0, false};
    cw_start_block(&c);
    cw_put(&c, header, sizeof header);
    cw_put(&c, payload, payload_len);
    cw_put(&c, trailer, sizeof trailer);
    if (c.overflow || c.len >= cap) {
        return EDGE_ERR_NO_SPACE;
    }
    cw_end_block(&c);
    out[c.len++] = 0x00;
    *out_len = c.len;
    return EDGE_OK;
}

/* ---- deframer ---- */

void edge_deframer_init(edge_deframer_t *d, uint8_t *buf, size_t cap)
{
    memset(d, 0, sizeof *d);
    d->buf = buf;
    d->cap = cap;
}

void edge_deframer_reset(edge_deframer_t *d)
{
    d->len = 0;
    d->block_left = 0;
    d->pending_zero = false;
    d->discarding = false;
    d->started = false;
}

static edge_deframe_result_t fail(edge_deframer_t *d, edge_err_t err)
{
    switch (err) {
    case EDGE_ERR_BAD_CRC: d->stats.bad_crc++; break;
    case EDGE_ERR_BAD_COBS: d->stats.bad_cobs++; break;
    case EDGE_ERR_OVERSIZED: d->stats.oversized++; break;
    case EDGE_ERR_TRUNCATED: d->stats.truncated++; break;
    case EDGE_ERR_BAD_VERSION: d->stats.bad_version++; break;
    default: d->stats.bad_type++; break;
    }
    d->last_error = err;
    return EDGE_DEFRAME_ERROR;
}

static edge_deframe_result_t finish_frame(edge_deframer_t *d, edge_frame_t *frame)
{
    if (d->block_left != 0) {
        return fail(d, EDGE_ERR_BAD_COBS); /* a code promised more bytes */
    }
    if (d->len < EDGE_FRAME_OVERHEAD) {
        return fail(d, EDGE_ERR_TRUNCATED);
    }
    size_t body = d->len - EDGE_FRAME_CRC_LEN;
    uint16_t want = (uint16_t)((d->buf[body] << 8) | d->buf[body + 1]);
    if (edge_crc16(d->buf, body) != want) {
        return fail(d, EDGE_ERR_BAD_CRC);
    }
    if (d->buf[0] != EDGE_FRAME_VERSION) {
        return fail(d, EDGE_ERR_BAD_VERSION);
    }
    uint8_t type = d->buf[1];
    if (type < EDGE_FRAME_TELEMETRY || type > EDGE_FRAME_CMD) {
        return fail(d, EDGE_ERR_BAD_TYPE);
    }
    frame->type = type;
    frame->seq = ((uint32_t)d->buf[2] << 24) | ((uint32_t)d->buf[3] << 16) |
                 ((uint32_t)d->buf[4] << 8) | d->buf[5];
    frame->payload = d->buf + EDGE_FRAME_HEADER_LEN;
    frame->payload_len = body - EDGE_FRAME_HEADER_LEN;
    d->stats.frames++;
    return EDGE_DEFRAME_FRAME;
}

static bool append(edge_deframer_t *d, uint8_t b)
{
    if (d->len >= d->cap || d->len >= EDGE_FRAME_RAW_MAX) {
        return false;
    }
    d->buf[d->len++] = b;
    return true;
}

edge_deframe_result_t edge_deframer_push(edge_deframer_t *d, uint8_t byte, edge_frame_t *frame)
{
    if (byte == 0x00) {
        bool had_frame = d->started && !d->discarding;
        edge_deframe_result_t res = EDGE_DEFRAME_MORE;
        if (had_frame) {
            res = finish_frame(d, frame);
        }
        edge_deframer_reset(d); /* an empty frame (00 00) is just idle line */
        return res;
    }
    if (d->discarding) {
        return EDGE_DEFRAME_MORE;
    }
    d->started = true;
    bool ok = true;
    if (d->block_left == 0) {
        /* a code byte: first emit the zero the previous block stood for */
        if (d->pending_zero) {
            ok = append(d, 0x00);
        }
        d->block_left = (uint8_t)(byte - 1);
        d->pending_zero = (byte != 0xFF);
    } else {
        ok = append(d, byte);
        d->block_left--;
    }
    if (!ok) {
        d->discarding = true;
        return fail(d, EDGE_ERR_OVERSIZED);
    }
    return EDGE_DEFRAME_MORE;
}

size_t edge_deframer_feed(edge_deframer_t *d, const uint8_t *data, size_t len,
                          edge_frame_handler_fn on_frame, void *ctx)
{
    size_t frames = 0;
    for (size_t i = 0; i < len; i++) {
        edge_frame_t f;
        if (edge_deframer_push(d, data[i], &f) == EDGE_DEFRAME_FRAME) {
            frames++;
            if (on_frame) {
                on_frame(ctx, &f);
            }
        }
    }
    return frames;
}
