#include "edge_outbox.h"

#include <string.h>

void edge_outbox_init(edge_outbox_t *ob)
{
    memset(ob, 0, sizeof *ob);
}

static uint16_t entry_index(const edge_outbox_t *ob, uint16_t i)
{
    return (uint16_t)((ob->head + i) % EDGE_OUTBOX_CAPACITY);
}

edge_ob_entry_t *edge_outbox_at(edge_outbox_t *ob, uint16_t i)
{
    return &ob->entry[entry_index(ob, i)];
}

/* Frees the head entry and its readings. */
static void pop_head(edge_outbox_t *ob)
{
    edge_ob_entry_t *e = &ob->entry[ob->head];
    ob->r_head = (uint16_t)((ob->r_head + e->count) % EDGE_OUTBOX_READINGS);
    ob->r_len = (uint16_t)(ob->r_len - e->count);
    ob->head = (uint16_t)((ob->head + 1) % EDGE_OUTBOX_CAPACITY);
    ob->len--;
}

static void reclaim_done(edge_outbox_t *ob)
{
    while (ob->len > 0 && ob->entry[ob->head].state == EDGE_OB_DONE) {
        pop_head(ob);
    }
}

void edge_outbox_drop_oldest(edge_outbox_t *ob)
{
    if (ob->len == 0) {
        return;
    }
    pop_head(ob); /* the head is never done: reclaim_done runs after acks */
    ob->dropped++;
    reclaim_done(ob);
}

edge_err_t edge_outbox_push(edge_outbox_t *ob, uint32_t seq, uint64_t time_ms,
                            bool unsynced, const uint8_t *sensor,
                            const uint32_t *offset, const float *value,
                            uint16_t count)
{
    if (count == 0 || count > EDGE_OUTBOX_READINGS) {
        return EDGE_ERR_BAD_FIELD;
    }
    while (ob->len >= EDGE_OUTBOX_CAPACITY ||
           EDGE_OUTBOX_READINGS - ob->r_len < count) {
        edge_outbox_drop_oldest(ob);
    }
    uint16_t first = (uint16_t)((ob->r_head + ob->r_len) % EDGE_OUTBOX_READINGS);
    for (uint16_t k = 0; k < count; k++) {
        uint16_t at = (uint16_t)((first + k) % EDGE_OUTBOX_READINGS);
        ob->sensor[at] = sensor[k];
        ob->offset[at] = offset[k];
        ob->value[at] = value[k];
    }
    ob->r_len = (uint16_t)(ob->r_len + count);
    edge_ob_entry_t *e = &ob->entry[entry_index(ob, ob->len)];
    *e = (edge_ob_entry_t){
        .time_ms = time_ms, .seq = seq, .msg_id = -1, .first = first,
        .count = count, .state = EDGE_OB_PENDING, .unsynced = unsynced,
    };
    ob->len++;
    return EDGE_OK;
}

uint16_t edge_outbox_pending_count(const edge_outbox_t *ob)
{
    uint16_t n = 0;
    for (uint16_t i = 0; i < ob->len; i++) {
        n += ob->entry[entry_index(ob, i)].state != EDGE_OB_DONE;
    }
    return n;
}

void edge_outbox_reading(const edge_outbox_t *ob, const edge_ob_entry_t *e,
                         uint16_t k, uint8_t *sensor, uint32_t *offset, float *value)
{
    uint16_t at = (uint16_t)((e->first + k) % EDGE_OUTBOX_READINGS);
    *sensor = ob->sensor[at];
    *offset = ob->offset[at];
    *value = ob->value[at];
}

static bool ack_where(edge_outbox_t *ob, bool by_seq, uint32_t seq, int32_t msg_id)
{
    for (uint16_t i = 0; i < ob->len; i++) {
        edge_ob_entry_t *e = edge_outbox_at(ob, i);
        if (e->state == EDGE_OB_DONE) {
            continue;
        }
        bool match = by_seq ? e->seq == seq
                            : (e->state == EDGE_OB_IN_FLIGHT && e->msg_id == msg_id);
        if (match) {
            e->state = EDGE_OB_DONE;
            reclaim_done(ob);
            return true;
        }
    }
    return false;
}

bool edge_outbox_ack_seq(edge_outbox_t *ob, uint32_t seq)
{
    return ack_where(ob, true, seq, 0);
}

bool edge_outbox_ack_msg_id(edge_outbox_t *ob, int32_t msg_id)
{
    return ack_where(ob, false, 0, msg_id);
}

void edge_outbox_requeue_all(edge_outbox_t *ob)
{
    for (uint16_t i = 0; i < ob->len; i++) {
        edge_ob_entry_t *e = edge_outbox_at(ob, i);
        if (e->state == EDGE_OB_IN_FLIGHT) {
            e->state = EDGE_OB_PENDING;
            e->msg_id = -1;
        }
    }
}
