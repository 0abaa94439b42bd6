/* Sampling schedule: one tick every interval_ms. Missed ticks are skipped,
 * not replayed in a burst (a late step after a stall samples once). */
#ifndef EDGE_SCHED_H
#define EDGE_SCHED_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    uint64_t next_ms;
    uint32_t interval_ms;
} edge_sched_t;

void edge_sched_init(edge_sched_t *s, uint32_t interval_ms, uint64_t now_ms);
void edge_sched_set_interval(edge_sched_t *s, uint32_t interval_ms, uint64_t now_ms);
bool edge_sched_due(edge_sched_t *s, uint64_t now_ms);

#endif
