#include "edge_cobs.h"

#include <stdbool.h>
#include <string.h>

/* Length of the next COBS block starting at in[0]: non-zero bytes up to the
 * first zero, the end, or 254 bytes. */
static size_t block_len(const uint8_t *in, size_t len)
{
    size_t n = 0;
    while (n < len && n < 254 && in[n] != 0) {
        n++;
    }
    return n;
}

/* Walks the blocks of the encoding. A block of 254 bytes (code 0xFF) does not
 * consume a zero; any other block consumes the zero that ends it (or the
 * end). Input that ends right after a 0xFF block still gets a final code
 * 0x01, as in the reference encoder. */
void edge_cobs_encode_to(const uint8_t *in, size_t len, edge_sink_fn sink, void *ctx)
{
    size_t pos = 0;
    for (;;) {
        size_t n = block_len(in + pos, len - pos);
        uint8_t code = (uint8_t)(n + 1);
        sink(ctx, &code, 1);
        if (n) {
            sink(ctx, in + pos, n);
        }
        pos += n;
        if (n == 254) {
            continue; /* no zero consumed; a final 0x01 follows at the end */
        }
        if (pos >= len) {
            return;
        }
        pos++; /* the zero this block stands for */
    }
}

typedef struct {
    uint8_t *out;
    size_t cap;
    size_t len;
    bool overflow;
} buffer_sink_t;

static void buffer_sink(void *ctx, const uint8_t *data, size_t len)
{
    buffer_sink_t *b = ctx;
    if (b->overflow || b->cap - b->len < len) {
        b->overflow = true;
        return;
    }
    memcpy(b->out + b->len, data, len);
    b->len += len;
}

edge_err_t edge_cobs_encode(const uint8_t *in, size_t len,
                            uint8_t *out, size_t cap, size_t *out_len)
{
    buffer_sink_t b = {out, cap, 0, false};
    edge_cobs_encode_to(in, len, buffer_sink, &b);
    if (b.overflow) {
        return EDGE_ERR_NO_SPACE;
    }
    *out_len = b.len;
    return EDGE_OK;
}

edge_err_t edge_cobs_decode(const uint8_t *in, size_t len,
                            uint8_t *out, size_t cap, size_t *out_len)
{
    if (len == 0) {
        return EDGE_ERR_BAD_COBS;
    }
    size_t pos = 0;
    size_t n_out = 0;
    while (pos < len) {
        uint8_t code = in[pos++];
        if (code == 0) {
            return EDGE_ERR_BAD_COBS;
        }
        size_t n = (size_t)code - 1;
        if (n > len - pos) {
            return EDGE_ERR_BAD_COBS;
        }
        if (n > cap - n_out) {
            return EDGE_ERR_NO_SPACE;
        }
        for (size_t i = 0; i < n; i++) {
            if (in[pos + i] == 0) {
                return EDGE_ERR_BAD_COBS;
            }
            out[n_out++] = in[pos + i];
        }
        pos += n;
        if (code != 0xFF && pos < len) {
            if (n_out >= cap) {
                return EDGE_ERR_NO_SPACE;
            }
            out[n_out++] = 0;
        }
    }
    *out_len = n_out;
    return EDGE_OK;
}
