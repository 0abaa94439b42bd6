/* "acked batch" lines for --verbose. The core drops a batch from its
 * outbox on PUBACK / ack frame without telling which: snapshot the
 * in-flight seqs before the event and report those gone afterwards. */
#include <inttypes.h>
#include <stdio.h>

#include "posix_port.h"

typedef struct {
    uint32_t seq;
    uint16_t count;
} snap_t;

static size_t snapshot(edge_node_t *node, snap_t *out)
{
    size_t n = 0;
    for (uint16_t i = 0; i < node->outbox.len; i++) {
        const edge_ob_entry_t *e = edge_outbox_at(&node->outbox, i);
        if (e->state == EDGE_OB_IN_FLIGHT) {
            out[n++] = (snap_t){e->seq, e->count};
        }
    }
    return n;
}

static void report(edge_node_t *node, const snap_t *snap, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        bool open = false;
        for (uint16_t i = 0; i < node->outbox.len && !open; i++) {
            const edge_ob_entry_t *e = edge_outbox_at(&node->outbox, i);
            open = e->seq == snap[k].seq && e->state != EDGE_OB_DONE;
        }
        if (!open) {
            printf("edge-node: acked device=%s boot=%" PRIu32 " seq=%" PRIu32 " readings=%u\n",
                   node->cfg.device_id, node->boot, snap[k].seq, (unsigned)snap[k].count);
        }
    }
}

void posix_deliver_puback(posix_ctx_t *ctx, int32_t mid)
{
    static snap_t snap[EDGE_OUTBOX_CAPACITY];
    size_t n = ctx->opts->verbose ? snapshot(ctx->node, snap) : 0;
    edge_node_on_mqtt_puback(ctx->node, mid);
    report(ctx->node, snap, n);
}

void posix_deliver_serial(posix_ctx_t *ctx, const uint8_t *data, size_t len)
{
    static snap_t snap[EDGE_OUTBOX_CAPACITY];
    size_t n = ctx->opts->verbose ? snapshot(ctx->node, snap) : 0;
    edge_node_on_serial_bytes(ctx->node, data, len);
    report(ctx->node, snap, n);
}
