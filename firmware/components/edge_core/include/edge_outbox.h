/* Outbox: closed batches kept in RAM until the transport acknowledges them.
 *
 * Invariants:
 *  - entries are in seq order, oldest first; readings live in one ring in
 *    the same order, so a batch's readings are contiguous modulo the ring;
 *  - an entry leaves only when acknowledged (edge_outbox_ack*) or dropped;
 *    an ack in the middle marks the entry done and its space is reclaimed
 *    once everything older is done too;
 *  - when a new batch does not fit (entries or readings), the oldest batch
 *    is dropped, in flight or not, and `dropped` counts it;
 *  - no heap: capacity is EDGE_OUTBOX_CAPACITY / EDGE_OUTBOX_READINGS. */
#ifndef EDGE_OUTBOX_H
#define EDGE_OUTBOX_H

#include <stdbool.h>
#include <stdint.h>

#include "edge_config.h"
#include "edge_err.h"

typedef enum {
    EDGE_OB_PENDING = 0, /* waiting to be sent (again) */
    EDGE_OB_IN_FLIGHT,   /* sent, waiting for PUBACK / ack frame */
    EDGE_OB_DONE         /* acknowledged, space not yet reclaimed */
} edge_ob_state_t;

typedef struct {
    uint64_t time_ms;
    uint32_t seq;
    int32_t msg_id;      /* MQTT message id while in flight */
    uint32_t sent_ms;    /* low 32 bits of the monotonic send time */
    uint16_t first;      /* index of the first reading in the ring */
    uint16_t count;
    uint8_t state;       /* edge_ob_state_t */
    bool unsynced;
} edge_ob_entry_t;

typedef struct {
    edge_ob_entry_t entry[EDGE_OUTBOX_CAPACITY];
    uint16_t head;       /* oldest entry */
    uint16_t len;        /* entries, done ones included */
    uint16_t r_head;     /* oldest reading */
    uint16_t r_len;
    uint32_t dropped;
    uint8_t sensor[EDGE_OUTBOX_READINGS];
    uint32_t offset[EDGE_OUTBOX_READINGS];
    float value[EDGE_OUTBOX_READINGS];
} edge_outbox_t;

void edge_outbox_init(edge_outbox_t *ob);
/* Copies a closed batch in, dropping the oldest batches if needed.
 * EDGE_ERR_BAD_FIELD if count is 0 or above EDGE_OUTBOX_READINGS. */
edge_err_t edge_outbox_push(edge_outbox_t *ob, uint32_t seq, uint64_t time_ms,
                            bool unsynced, const uint8_t *sensor,
                            const uint32_t *offset, const float *value,
                            uint16_t count);
/* Entries not yet acknowledged. */
uint16_t edge_outbox_pending_count(const edge_outbox_t *ob);
/* i-th entry from the oldest (0 <= i < ob->len), done ones included. */
edge_ob_entry_t *edge_outbox_at(edge_outbox_t *ob, uint16_t i);
/* Reading k of an entry. */
void edge_outbox_reading(const edge_outbox_t *ob, const edge_ob_entry_t *e,
                         uint16_t k, uint8_t *sensor, uint32_t *offset, float *value);
/* Acknowledge by batch seq (serial) or MQTT message id of an in-flight
 * entry. false if no such entry (late ack of a dropped batch). */
bool edge_outbox_ack_seq(edge_outbox_t *ob, uint32_t seq);
bool edge_outbox_ack_msg_id(edge_outbox_t *ob, int32_t msg_id);
/* Everything in flight goes back to pending (after a disconnect). */
void edge_outbox_requeue_all(edge_outbox_t *ob);
/* Drops the oldest live entry, counting it. */
void edge_outbox_drop_oldest(edge_outbox_t *ob);

#endif
