/* Collects readings into the open batch; the batch closes at batch_size
 * readings or when it is max_age_ms old, whichever comes first. */
#ifndef EDGE_BATCHER_H
#define EDGE_BATCHER_H

#include <stdbool.h>
#include <stdint.h>

#include "edge_proto.h"

typedef struct {
    uint32_t batch_size;
    uint32_t max_age_ms;
    uint16_t count;
    bool unsynced;
    uint64_t time_ms;     /* batch `t` */
    uint64_t opened_ms;   /* monotonic time of the first reading */
    uint8_t sensor[EDGE_BATCH_SIZE_MAX];
    uint32_t offset[EDGE_BATCH_SIZE_MAX];
    float value[EDGE_BATCH_SIZE_MAX];
} edge_batcher_t;

/* batch_size is clamped to 1..EDGE_BATCH_SIZE_MAX. */
void edge_batcher_init(edge_batcher_t *b, uint32_t batch_size, uint32_t max_age_ms);
void edge_batcher_set_size(edge_batcher_t *b, uint32_t batch_size);
/* Adds one reading. The first reading of a batch fixes t: base_time_ms
 * (epoch ms, or ms since boot when unsynced). Returns true when the batch
 * is full and must be taken. */
bool edge_batcher_add(edge_batcher_t *b, uint64_t now_ms, uint64_t base_time_ms,
                      bool unsynced, uint8_t sensor, float value);
bool edge_batcher_full(const edge_batcher_t *b);
bool edge_batcher_expired(const edge_batcher_t *b, uint64_t now_ms);
void edge_batcher_clear(edge_batcher_t *b);

#endif
