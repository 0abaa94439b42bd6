#include "edge_sched.h"

void edge_sched_init(edge_sched_t *s, uint32_t interval_ms, uint64_t now_ms)
{
    s->interval_ms = interval_ms ? interval_ms : 1;
    s->next_ms = now_ms; /* first sample right away */
}

void edge_sched_set_interval(edge_sched_t *s, uint32_t interval_ms, uint64_t now_ms)
{
    s->interval_ms = interval_ms ? interval_ms : 1;
    s->next_ms = now_ms + s->interval_ms;
}

bool edge_sched_due(edge_sched_t *s, uint64_t now_ms)
{
    if (now_ms < s->next_ms) {
        return false;
    }
    s->next_ms += s->interval_ms;
    if (s->next_ms <= now_ms) {
        s->next_ms = now_ms + s->interval_ms; /* stalled: skip, don't burst */
    }
    return true;
}
