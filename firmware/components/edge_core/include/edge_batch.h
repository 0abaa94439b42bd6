/* Batch payload encoder (PROTOCOL.md section 3): map of 8 keys in fixed
 * order, smallest integer forms, float32 values. */
#ifndef EDGE_BATCH_H
#define EDGE_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "edge_err.h"
#include "edge_msgpack.h"

typedef struct {
    const char *device;
    const char *firmware;
    uint32_t boot;
    uint32_t seq;
    uint64_t time_ms;   /* epoch ms, or ms since boot when unsynced */
    bool unsynced;
} edge_batch_header_t;

typedef struct {
    const char *sensor;
    uint32_t offset_ms;
    float value;
} edge_reading_t;

/* Incremental form, used to encode straight from compact storage:
 * begin(count) then exactly `count` add() calls, then finish(). */
edge_err_t edge_batch_begin(edge_mp_writer_t *w, const edge_batch_header_t *h,
                            size_t reading_count);
edge_err_t edge_batch_add(edge_mp_writer_t *w, const char *sensor,
                          uint32_t offset_ms, float value);
/* EDGE_ERR_NO_SPACE if the writer overflowed, EDGE_ERR_TOO_LARGE over 4096. */
edge_err_t edge_batch_finish(const edge_mp_writer_t *w);

edge_err_t edge_batch_encode(const edge_batch_header_t *h,
                             const edge_reading_t *readings, size_t count,
                             uint8_t *out, size_t cap, size_t *out_len);

/* Field validators (also used by config checks). */
bool edge_valid_device_id(const char *s);   /* 1..64 of [A-Za-z0-9_-] */
bool edge_valid_sensor_name(const char *s); /* 1..32 of [a-z0-9_] */
bool edge_valid_firmware(const char *s);    /* 1..32 bytes */
bool edge_valid_float(float v);             /* not NaN, not infinite */

#endif
