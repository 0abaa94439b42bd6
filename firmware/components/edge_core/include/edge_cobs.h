/* Consistent Overhead Byte Stuffing (Cheshire & Baker). Encodings never
 * contain 0x00 and carry no delimiter; framing adds the 0x00. */
#ifndef EDGE_COBS_H
#define EDGE_COBS_H

#include <stddef.h>
#include <stdint.h>

#include "edge_err.h"

/* Upper bound of the encoding of len bytes. */
#define EDGE_COBS_MAX_ENCODED(len) ((len) + (len) / 254u + 1u)

/* Receives encoded output piece by piece (a code byte, then a data run). */
typedef void (*edge_sink_fn)(void *ctx, const uint8_t *data, size_t len);

edge_err_t edge_cobs_encode(const uint8_t *in, size_t len,
                            uint8_t *out, size_t cap, size_t *out_len);
/* Zero-copy variant: data runs are passed straight from `in` to the sink. */
void edge_cobs_encode_to(const uint8_t *in, size_t len,
                         edge_sink_fn sink, void *ctx);
/* EDGE_ERR_BAD_COBS for a zero byte, a zero code or a code past the end;
 * EDGE_ERR_NO_SPACE if the output does not fit. `in` excludes the delimiter. */
edge_err_t edge_cobs_decode(const uint8_t *in, size_t len,
                            uint8_t *out, size_t cap, size_t *out_len);

#endif
