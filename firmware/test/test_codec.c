/* Unit tests of the codec modules beyond the shared vectors: edge cases of
 * the writer/reader, COBS round trips, deframer resync and hostile input. */
#include <string.h>

#include "harness.h"
#include "suites.h"

#include "edge_batch.h"
#include "edge_cmd.h"
#include "edge_cobs.h"
#include "edge_frame.h"
#include "edge_msgpack.h"
#include "edge_status.h"

static uint8_t buf[EDGE_FRAME_RAW_MAX + 64];
static uint8_t big[EDGE_FRAME_RAW_MAX * 2];

static void writer_smallest_int_forms(void)
{
    static const struct { int64_t v; uint8_t bytes[9]; size_t n; } cases[] = {
        {0, {0x00}, 1}, {127, {0x7f}, 1}, {128, {0xcc, 0x80}, 2},
        {255, {0xcc, 0xff}, 2}, {256, {0xcd, 0x01, 0x00}, 3},
        {65536, {0xce, 0, 1, 0, 0}, 5}, {-1, {0xff}, 1}, {-32, {0xe0}, 1},
        {-33, {0xd0, 0xdf}, 2}, {-128, {0xd0, 0x80}, 2}, {-129, {0xd1, 0xff, 0x7f}, 3},
        {-40000, {0xd2, 0xff, 0xff, 0x63, 0xc0}, 5},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        edge_mp_writer_t w;
        edge_mp_writer_init(&w, buf, sizeof buf);
        edge_mp_put_int(&w, cases[i].v);
        CHECK_MEM(buf, w.len, cases[i].bytes, cases[i].n);
    }
    edge_mp_writer_t w;
    edge_mp_writer_init(&w, buf, sizeof buf);
    edge_mp_put_uint(&w, 0x100000000ull);
    static const uint8_t u64[] = {0xcf, 0, 0, 0, 1, 0, 0, 0, 0};
    CHECK_MEM(buf, w.len, u64, sizeof u64);
}

static void writer_overflow_is_sticky(void)
{
    edge_mp_writer_t w;
    edge_mp_writer_init(&w, buf, 3);
    edge_mp_put_uint(&w, 1);
    edge_mp_put_uint(&w, 70000); /* needs 5 bytes: does not fit */
    edge_mp_put_uint(&w, 1);     /* would fit, but the payload is already lost */
    CHECK(w.overflow);
    CHECK_EQ(w.len, 1);
}

static void reader_rejects_truncation_everywhere(void)
{
    /* every prefix of a valid command is malformed, never a crash */
    static const uint8_t cmd[] = {0x84, 0xa1, 0x76, 0x01, 0xa2, 0x69, 0x64, 0x01, 0xa2, 0x6f,
                                  0x70, 0xa4, 0x70, 0x69, 0x6e, 0x67, 0xa3, 0x61, 0x72, 0x67, 0x00};
    edge_cmd_t c;
    for (size_t n = 0; n < sizeof cmd; n++) {
        CHECK_EQ(edge_cmd_parse(cmd, n, &c), EDGE_ERR_MALFORMED);
    }
    CHECK_EQ(edge_cmd_parse(cmd, sizeof cmd, &c), EDGE_OK);
}

static void reader_skip_survives_deep_nesting(void)
{
    /* 4000 nested one-element arrays: iterative skip, no recursion */
    size_t n = 0;
    for (; n < 4000; n++) {
        big[n] = 0x91;
    }
    big[n++] = 0x01;
    edge_mp_reader_t r;
    edge_mp_reader_init(&r, big, n);
    CHECK_EQ(edge_mp_skip(&r), EDGE_OK);
    CHECK_EQ(edge_mp_remaining(&r), 0);
    edge_mp_reader_init(&r, big, n - 1);
    CHECK_EQ(edge_mp_skip(&r), EDGE_ERR_MALFORMED);
    /* huge declared counts are rejected without iterating */
    static const uint8_t huge_map[] = {0xdf, 0xff, 0xff, 0xff, 0xff, 0x01};
    edge_mp_reader_init(&r, huge_map, sizeof huge_map);
    CHECK_EQ(edge_mp_skip(&r), EDGE_ERR_MALFORMED);
    static const uint8_t never_used[] = {0xc1};
    edge_mp_reader_init(&r, never_used, 1);
    CHECK_EQ(edge_mp_skip(&r), EDGE_ERR_MALFORMED);
}

static void cmd_hostile_inputs(void)
{
    edge_cmd_t c;
    /* unknown key with a nested value is skipped */
    static const uint8_t extra[] = {0x85, 0xa1, 0x76, 0x01, 0xa1, 0x78, 0x92, 0x80, 0x90,
                                    0xa2, 0x69, 0x64, 0x07, 0xa2, 0x6f, 0x70, 0xa4, 0x70,
                                    0x69, 0x6e, 0x67, 0xa3, 0x61, 0x72, 0x67, 0x00};
    CHECK_EQ(edge_cmd_parse(extra, sizeof extra, &c), EDGE_OK);
    CHECK_EQ(c.id, 7);
    /* trailing byte */
    static const uint8_t trailing[] = {0x84, 0xa1, 0x76, 0x01, 0xa2, 0x69, 0x64, 0x01, 0xa2,
                                       0x6f, 0x70, 0xa4, 0x70, 0x69, 0x6e, 0x67, 0xa3, 0x61,
                                       0x72, 0x67, 0x00, 0x00};
    CHECK_EQ(edge_cmd_parse(trailing, sizeof trailing, &c), EDGE_ERR_MALFORMED);
    /* negative id, id > uint32, ping with an argument */
    static const uint8_t neg_id[] = {0x84, 0xa1, 0x76, 0x01, 0xa2, 0x69, 0x64, 0xff, 0xa2, 0x6f,
                                     0x70, 0xa4, 0x70, 0x69, 0x6e, 0x67, 0xa3, 0x61, 0x72, 0x67, 0x00};
    CHECK_EQ(edge_cmd_parse(neg_id, sizeof neg_id, &c), EDGE_ERR_BAD_FIELD);
    static const uint8_t big_id[] = {0x84, 0xa1, 0x76, 0x01, 0xa2, 0x69, 0x64, 0xcf, 0, 0, 0, 1,
                                     0, 0, 0, 0, 0xa2, 0x6f, 0x70, 0xa4, 0x70, 0x69, 0x6e, 0x67,
                                     0xa3, 0x61, 0x72, 0x67, 0x00};
    CHECK_EQ(edge_cmd_parse(big_id, sizeof big_id, &c), EDGE_ERR_BAD_FIELD);
    static const uint8_t ping_arg[] = {0x84, 0xa1, 0x76, 0x01, 0xa2, 0x69, 0x64, 0x01, 0xa2, 0x6f,
                                       0x70, 0xa4, 0x70, 0x69, 0x6e, 0x67, 0xa3, 0x61, 0x72, 0x67, 0x05};
    CHECK_EQ(edge_cmd_parse(ping_arg, sizeof ping_arg, &c), EDGE_ERR_BAD_ARG);
    /* keys are containers: malformed, not a crash */
    static const uint8_t map_key[] = {0x81, 0x80, 0x01};
    CHECK_EQ(edge_cmd_parse(map_key, sizeof map_key, &c), EDGE_ERR_MALFORMED);
}

static void cobs_round_trip_all_lengths(void)
{
    /* lengths around the 254-byte block boundary, with and without zeros */
    static uint8_t in[600], enc[700], dec[600];
    for (size_t len = 0; len < sizeof in; len += (len < 520 ? 1 : 37)) {
        for (int zeros = 0; zeros < 2; zeros++) {
            for (size_t i = 0; i < len; i++) {
                in[i] = (uint8_t)(zeros && i % 97 == 3 ? 0 : (i % 255) + 1);
            }
            size_t n_enc = 0, n_dec = 0;
            CHECK_EQ(edge_cobs_encode(in, len, enc, sizeof enc, &n_enc), EDGE_OK);
            CHECK(n_enc <= EDGE_COBS_MAX_ENCODED(len));
            CHECK(memchr(enc, 0, n_enc) == NULL);
            CHECK_EQ(edge_cobs_decode(enc, n_enc, dec, sizeof dec, &n_dec), EDGE_OK);
            CHECK_MEM(dec, n_dec, in, len);
            /* the frame encoder and the deframer agree at this length too */
            if (len <= 512) {
                size_t n_wire = 0;
                CHECK_EQ(edge_frame_encode(EDGE_FRAME_CMD, (uint32_t)len, in, len, big,
                                           sizeof big, &n_wire), EDGE_OK);
                edge_deframer_t d;
                edge_frame_t f = {0};
                edge_deframer_init(&d, buf, sizeof buf);
                int frames = 0;
                for (size_t i = 0; i < n_wire; i++) {
                    frames += edge_deframer_push(&d, big[i], &f) == EDGE_DEFRAME_FRAME;
                }
                CHECK_EQ(frames, 1);
                CHECK_EQ(f.seq, len);
                CHECK_MEM(f.payload, f.payload_len, in, len);
            }
        }
    }
    size_t n = 0;
    CHECK_EQ(edge_cobs_encode(in, 10, enc, 5, &n), EDGE_ERR_NO_SPACE);
}

static void deframer_resyncs_after_garbage(void)
{
    static const uint8_t ping[] = {0x84, 0xa1, 0x76, 0x01, 0xa2, 0x69, 0x64, 0x01, 0xa2, 0x6f, 0x70,
                                   0xa4, 0x70, 0x69, 0x6e, 0x67, 0xa3, 0x61, 0x72, 0x67, 0x00};
    size_t n = 0, at = 0;
    static const uint8_t junk[] = {0x07, 0x33, 0x44, 0x00, 0x00, 0x00, 0xff, 0x12};
    memcpy(big, junk, sizeof junk); /* truncated, two idle delimiters, a torn frame */
    at = sizeof junk;
    CHECK_EQ(edge_frame_encode(EDGE_FRAME_CMD, 9, ping, sizeof ping, big + at, 200, &n), EDGE_OK);
    at += n;
    edge_deframer_t d;
    edge_deframer_init(&d, buf, sizeof buf);
    edge_frame_t f;
    int frames = 0;
    for (size_t i = 0; i < at; i++) {
        frames += edge_deframer_push(&d, big[i], &f) == EDGE_DEFRAME_FRAME;
    }
    /* the torn frame (ff 12 ...) swallows the good one up to its delimiter */
    CHECK_EQ(frames, 0);
    CHECK_EQ(d.stats.bad_cobs + d.stats.truncated + d.stats.bad_crc, 2);
    CHECK_EQ(edge_deframer_feed(&d, big + sizeof junk, n, NULL, NULL), 1);
}

static void deframer_small_buffer_counts_oversized(void)
{
    static uint8_t small[32];
    static uint8_t payload[100];
    memset(payload, 0x5a, sizeof payload);
    size_t n = 0;
    CHECK_EQ(edge_frame_encode(EDGE_FRAME_CMD, 1, payload, sizeof payload, big, sizeof big, &n), EDGE_OK);
    edge_deframer_t d;
    edge_deframer_init(&d, small, sizeof small);
    CHECK_EQ(edge_deframer_feed(&d, big, n, NULL, NULL), 0);
    CHECK_EQ(d.stats.oversized, 1);
    CHECK_EQ(edge_frame_encode(EDGE_FRAME_CMD, 1, payload, 10, big, sizeof big, &n), EDGE_OK);
    CHECK_EQ(edge_deframer_feed(&d, big, n, NULL, NULL), 1);
}

static void batch_rejects_bad_fields(void)
{
    edge_reading_t r = {"temperature", 0, 21.5f};
    edge_batch_header_t h = {"node-1", "1.0.0", 1, 0, 0, true};
    size_t n = 0;
    CHECK_EQ(edge_batch_encode(&h, &r, 1, buf, sizeof buf, &n), EDGE_OK);
    CHECK_EQ(edge_batch_encode(&h, &r, 0, buf, sizeof buf, &n), EDGE_ERR_BAD_FIELD);
    r.sensor = "Temp";
    CHECK_EQ(edge_batch_encode(&h, &r, 1, buf, sizeof buf, &n), EDGE_ERR_BAD_FIELD);
    r.sensor = "temperature";
    uint32_t nan_bits = 0x7fc00000u;
    memcpy(&r.value, &nan_bits, sizeof r.value);
    CHECK_EQ(edge_batch_encode(&h, &r, 1, buf, sizeof buf, &n), EDGE_ERR_BAD_FIELD);
    r.value = 1.0f;
    h.device = "a/b";
    CHECK_EQ(edge_batch_encode(&h, &r, 1, buf, sizeof buf, &n), EDGE_ERR_BAD_FIELD);
    h.device = "node-1";
    h.firmware = "";
    CHECK_EQ(edge_batch_encode(&h, &r, 1, buf, sizeof buf, &n), EDGE_ERR_BAD_FIELD);
    h.firmware = "1.0.0";
    CHECK_EQ(edge_batch_encode(&h, &r, 1, buf, 20, &n), EDGE_ERR_NO_SPACE);
    /* 256 readings with long names exceed 4096 bytes */
    static edge_reading_t many[256];
    for (size_t i = 0; i < 256; i++) {
        many[i] = (edge_reading_t){"a_rather_long_sensor_name_here", 100000, 1.5f};
    }
    CHECK_EQ(edge_batch_encode(&h, many, 256, big, sizeof big, &n), EDGE_ERR_TOO_LARGE);
}

static void status_worst_case_fits(void)
{
    edge_status_t s = {"dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd",
                       UINT32_MAX, UINT32_MAX, INT32_MIN, UINT32_MAX, UINT32_MAX,
                       UINT32_MAX, UINT32_MAX, UINT32_MAX};
    size_t n = 0;
    CHECK_EQ(edge_status_encode(&s, buf, EDGE_STATUS_MAX_LEN, &n), EDGE_OK);
    CHECK_EQ(edge_will_encode(s.device, UINT32_MAX, buf, EDGE_WILL_MAX_LEN, &n), EDGE_OK);
    CHECK_EQ(edge_status_encode(&s, buf, 10, &n), EDGE_ERR_NO_SPACE);
}

void suite_codec(void)
{
    RUN("codec", writer_smallest_int_forms);
    RUN("codec", writer_overflow_is_sticky);
    RUN("codec", reader_rejects_truncation_everywhere);
    RUN("codec", reader_skip_survives_deep_nesting);
    RUN("codec", cmd_hostile_inputs);
    RUN("codec", cobs_round_trip_all_lengths);
    RUN("codec", deframer_resyncs_after_garbage);
    RUN("codec", deframer_small_buffer_counts_oversized);
    RUN("codec", batch_rejects_bad_fields);
    RUN("codec", status_worst_case_fits);
}
