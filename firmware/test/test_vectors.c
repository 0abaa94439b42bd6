/* Every vector in shared/protocol/vectors, through the C core. */
#include <string.h>

#include "edge_vectors.h" /* generated at build time */
#include "harness.h"
#include "suites.h"

#include "edge_batch.h"
#include "edge_cmd.h"
#include "edge_cobs.h"
#include "edge_crc16.h"
#include "edge_frame.h"
#include "edge_proto.h"
#include "edge_status.h"

static uint8_t out[8192];
static uint8_t frame_buf[EDGE_FRAME_RAW_MAX];

static float bits_to_float(uint32_t bits)
{
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static void crc_vectors(void)
{
    for (size_t i = 0; i < VEC_CRC_COUNT; i++) {
        th_begin("vectors.crc16", "crc");
        CHECK_EQ(edge_crc16(vec_crc[i].data, vec_crc[i].len), vec_crc[i].crc);
        th_end();
    }
}

static void cobs_vectors(void)
{
    for (size_t i = 0; i < VEC_COBS_COUNT; i++) {
        const vec_cobs_t *v = &vec_cobs[i];
        size_t n = 0;
        th_begin("vectors.cobs", "encode");
        CHECK_EQ(edge_cobs_encode(v->decoded, v->decoded_len, out, sizeof out, &n), EDGE_OK);
        CHECK_MEM(out, n, v->encoded, v->encoded_len);
        CHECK(n <= EDGE_COBS_MAX_ENCODED(v->decoded_len));
        th_end();
        th_begin("vectors.cobs", "decode");
        n = 0;
        CHECK_EQ(edge_cobs_decode(v->encoded, v->encoded_len, out, sizeof out, &n), EDGE_OK);
        CHECK_MEM(out, n, v->decoded, v->decoded_len);
        th_end();
    }
    for (size_t i = 0; i < VEC_COBS_INVALID_COUNT; i++) {
        const vec_invalid_t *v = &vec_cobs_invalid[i];
        size_t n = 0;
        th_begin("vectors.cobs_invalid", v->name);
        edge_err_t err = edge_cobs_decode(v->bytes, v->len, out, sizeof out, &n);
        CHECK(th_streq(edge_err_name(err), v->error));
        th_end();
    }
}

typedef struct {
    size_t count;
    edge_frame_t last;
    uint8_t payload[EDGE_PAYLOAD_MAX];
} frame_catch_t;

static void catch_frame(void *ctx, const edge_frame_t *f)
{
    frame_catch_t *c = ctx;
    c->count++;
    c->last = *f;
    memcpy(c->payload, f->payload, f->payload_len);
    c->last.payload = c->payload;
}

static void frame_vectors(void)
{
    for (size_t i = 0; i < VEC_FRAME_COUNT; i++) {
        const vec_frame_t *v = &vec_frame[i];
        size_t n = 0;
        th_begin("vectors.frame", v->name);
        CHECK_EQ(v->version, EDGE_FRAME_VERSION);
        CHECK_EQ(edge_frame_encode(v->type, v->seq, v->payload, v->payload_len, out,
                                   sizeof out, &n), EDGE_OK);
        CHECK_MEM(out, n, v->wire, v->wire_len);

        /* the in-place path gives the same raw bytes */
        static uint8_t raw[EDGE_FRAME_RAW_MAX];
        memcpy(raw + EDGE_FRAME_HEADER_LEN, v->payload, v->payload_len);
        size_t raw_len = edge_frame_seal(raw, v->type, v->seq, v->payload_len);
        CHECK_MEM(raw, raw_len, v->raw, v->raw_len);

        /* whole chunk, then byte by byte: same frame */
        for (int bytewise = 0; bytewise < 2; bytewise++) {
            static frame_catch_t got;
            edge_deframer_t d;
            memset(&got, 0, sizeof got);
            edge_deframer_init(&d, frame_buf, sizeof frame_buf);
            if (bytewise) {
                for (size_t k = 0; k < v->wire_len; k++) {
                    edge_deframer_feed(&d, &v->wire[k], 1, catch_frame, &got);
                }
            } else {
                edge_deframer_feed(&d, v->wire, v->wire_len, catch_frame, &got);
            }
            CHECK_EQ(got.count, 1);
            CHECK_EQ(got.last.type, v->type);
            CHECK_EQ(got.last.seq, v->seq);
            CHECK_MEM(got.last.payload, got.last.payload_len, v->payload, v->payload_len);
            CHECK_EQ(d.stats.frames, 1);
        }
        th_end();
    }
    for (size_t i = 0; i < VEC_FRAME_INVALID_COUNT; i++) {
        const vec_invalid_t *v = &vec_frame_invalid[i];
        th_begin("vectors.frame_invalid", v->name);
        edge_deframer_t d;
        static frame_catch_t got;
        memset(&got, 0, sizeof got);
        edge_deframer_init(&d, frame_buf, sizeof frame_buf);
        /* the first error reported must be the vector's; a delimiter is
         * added in case the vector has none, then a good frame must still
         * come through (resync) */
        edge_err_t first = EDGE_OK;
        edge_frame_t f;
        for (size_t k = 0; k <= v->len; k++) {
            uint8_t byte = k < v->len ? v->bytes[k] : 0x00;
            edge_deframe_result_t res = edge_deframer_push(&d, byte, &f);
            CHECK(res != EDGE_DEFRAME_FRAME);
            if (res == EDGE_DEFRAME_ERROR && first == EDGE_OK) {
                first = d.last_error;
            }
        }
        CHECK(th_streq(edge_err_name(first), v->error));
        CHECK_EQ(d.stats.frames, 0);
        edge_deframer_feed(&d, vec_frame[0].wire, vec_frame[0].wire_len, catch_frame, &got);
        CHECK_EQ(got.count, 1);
        th_end();
    }
}

static void batch_vectors(void)
{
    for (size_t i = 0; i < VEC_BATCH_COUNT; i++) {
        const vec_batch_t *v = &vec_batch[i];
        if (!v->canonical) {
            continue; /* decoded by batch_check in test_decode.c */
        }
        th_begin("vectors.batch", v->name);
        static edge_reading_t readings[EDGE_READINGS_MAX];
        CHECK(v->r_count <= EDGE_READINGS_MAX);
        for (size_t k = 0; k < v->r_count && k < EDGE_READINGS_MAX; k++) {
            readings[k].sensor = v->r[k].sensor;
            readings[k].offset_ms = v->r[k].offset;
            readings[k].value = bits_to_float(v->r[k].value_bits);
        }
        CHECK_EQ(v->v, EDGE_PROTOCOL_VERSION);
        edge_batch_header_t h = {v->d, v->f, v->b, v->s, v->t, v->u};
        size_t n = 0;
        CHECK_EQ(edge_batch_encode(&h, readings, v->r_count, out, sizeof out, &n), EDGE_OK);
        CHECK_MEM(out, n, v->bytes, v->len);
        th_end();
    }
}

static void status_vectors(void)
{
    for (size_t i = 0; i < VEC_STATUS_COUNT; i++) {
        const vec_status_t *v = &vec_status[i];
        if (!v->canonical) {
            continue;
        }
        th_begin("vectors.status", v->name);
        CHECK_EQ(v->v, EDGE_PROTOCOL_VERSION);
        size_t n = 0;
        if (v->keys == 4) {
            CHECK(th_streq(v->st, "offline"));
            CHECK_EQ(edge_will_encode(v->d, v->b, out, sizeof out, &n), EDGE_OK);
        } else {
            CHECK(th_streq(v->st, "online"));
            edge_status_t s = {v->d, v->b, v->up, v->rssi, v->heap, v->drop, v->iv, v->bs, v->cmd};
            CHECK_EQ(edge_status_encode(&s, out, sizeof out, &n), EDGE_OK);
        }
        CHECK_MEM(out, n, v->bytes, v->len);
        th_end();
    }
}

static void cmd_vectors(void)
{
    for (size_t i = 0; i < VEC_CMD_COUNT; i++) {
        const vec_cmd_t *v = &vec_cmd[i];
        th_begin("vectors.cmd", v->name);
        edge_cmd_t c = {0};
        CHECK_EQ(edge_cmd_parse(v->bytes, v->len, &c), EDGE_OK);
        CHECK_EQ(v->v, EDGE_PROTOCOL_VERSION);
        CHECK_EQ(c.id, v->id);
        CHECK(th_streq(edge_op_name(c.op), v->op));
        CHECK_EQ(c.arg, v->arg);
        if (v->canonical) {
            size_t n = 0;
            CHECK_EQ(edge_cmd_encode(&c, out, sizeof out, &n), EDGE_OK);
            CHECK_MEM(out, n, v->bytes, v->len);
        }
        th_end();
    }
    for (size_t i = 0; i < VEC_CMD_INVALID_COUNT; i++) {
        const vec_invalid_t *v = &vec_cmd_invalid[i];
        th_begin("vectors.cmd_invalid", v->name);
        edge_cmd_t c = {0};
        edge_err_t err = edge_cmd_parse(v->bytes, v->len, &c);
        CHECK(th_streq(edge_err_name(err), v->error));
        th_end();
    }
}

void suite_vectors(void)
{
    crc_vectors();
    cobs_vectors();
    frame_vectors();
    batch_vectors();
    status_vectors();
    cmd_vectors();
}
