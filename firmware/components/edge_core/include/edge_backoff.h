/* Exponential backoff with jitter, for reconnects and retransmits. */
#ifndef EDGE_BACKOFF_H
#define EDGE_BACKOFF_H

#include <stdint.h>

typedef struct {
    uint32_t min_ms;
    uint32_t max_ms;
    uint32_t attempt;
} edge_backoff_t;

void edge_backoff_init(edge_backoff_t *b, uint32_t min_ms, uint32_t max_ms);
void edge_backoff_reset(edge_backoff_t *b);
/* Next delay: ceiling = min(max, min << attempt); result is uniform in
 * [ceiling/2, ceiling] ("equal jitter"), so retries never bunch at 0 and
 * a fleet restarted together spreads out. */
uint32_t edge_backoff_next(edge_backoff_t *b, uint32_t random);

#endif
