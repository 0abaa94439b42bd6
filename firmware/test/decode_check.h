/* Test-side decoders (the node itself never decodes batches/status). */
#ifndef DECODE_CHECK_H
#define DECODE_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "edge_proto.h"

typedef struct {
    uint64_t v, b, s, t;
    bool u;
    char d[EDGE_DEVICE_ID_MAX + 1];
    char f[EDGE_FIRMWARE_MAX + 1];
    size_t r_count;
    char sensor[EDGE_READINGS_MAX][EDGE_SENSOR_NAME_MAX + 1];
    uint32_t offset[EDGE_READINGS_MAX];
    float value[EDGE_READINGS_MAX];
} decoded_batch_t;

/* Returns "ok" or the vector error name. */
const char *batch_check(const uint8_t *p, size_t len, decoded_batch_t *b);
/* Reads an unsigned field of a status map by key; false if absent. */
bool status_field(const uint8_t *p, size_t len, const char *key, int64_t *out);

#endif
