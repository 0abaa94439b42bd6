#include "edge_backoff.h"

void edge_backoff_init(edge_backoff_t *b, uint32_t min_ms, uint32_t max_ms)
{
    b->min_ms = min_ms ? min_ms : 1;
    b->max_ms = max_ms < b->min_ms ? b->min_ms : max_ms;
    b->attempt = 0;
}

void edge_backoff_reset(edge_backoff_t *b)
{
    b->attempt = 0;
}

uint32_t edge_backoff_next(edge_backoff_t *b, uint32_t random)
{
    uint64_t ceiling = b->min_ms;
    for (uint32_t i = 0; i < b->attempt && ceiling < b->max_ms; i++) {
        ceiling <<= 1;
    }
    if (ceiling > b->max_ms) {
        ceiling = b->max_ms;
    } else if (ceiling < b->max_ms) {
        b->attempt++; /* stop counting once at the cap: no overflow */
    }
    uint32_t half = (uint32_t)(ceiling / 2);
    uint32_t span = (uint32_t)ceiling - half + 1;
    return half + random % span;
}
