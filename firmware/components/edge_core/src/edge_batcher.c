#include "edge_batcher.h"

static uint32_t clamp_size(uint32_t n)
{
    if (n < EDGE_BATCH_SIZE_MIN) {
        return EDGE_BATCH_SIZE_MIN;
    }
    return n > EDGE_BATCH_SIZE_MAX ? EDGE_BATCH_SIZE_MAX : n;
}

void edge_batcher_init(edge_batcher_t *b, uint32_t batch_size, uint32_t max_age_ms)
{
    b->batch_size = clamp_size(batch_size);
    b->max_age_ms = max_age_ms;
    edge_batcher_clear(b);
}

void edge_batcher_set_size(edge_batcher_t *b, uint32_t batch_size)
{
    b->batch_size = clamp_size(batch_size);
}

void edge_batcher_clear(edge_batcher_t *b)
{
    b->count = 0;
}

bool edge_batcher_full(const edge_batcher_t *b)
{
    return b->count >= b->batch_size;
}

bool edge_batcher_expired(const edge_batcher_t *b, uint64_t now_ms)
{
    return b->count > 0 && now_ms - b->opened_ms >= b->max_age_ms;
}

bool edge_batcher_add(edge_batcher_t *b, uint64_t now_ms, uint64_t base_time_ms,
                      bool unsynced, uint8_t sensor, float value)
{
    if (edge_batcher_full(b)) {
        return true; /* caller must take the batch first */
    }
    if (b->count == 0) {
        b->opened_ms = now_ms;
        b->time_ms = base_time_ms;
        b->unsynced = unsynced;
    }
    uint64_t offset = now_ms - b->opened_ms;
    b->sensor[b->count] = sensor;
    b->offset[b->count] = offset > UINT32_MAX ? UINT32_MAX : (uint32_t)offset;
    b->value[b->count] = value;
    b->count++;
    return edge_batcher_full(b);
}
