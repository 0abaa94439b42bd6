/* Error codes shared by every edge_core module. Names match the strings
 * used in shared/protocol/vectors (see edge_err_name). */
#ifndef EDGE_ERR_H
#define EDGE_ERR_H

typedef enum {
    EDGE_OK = 0,
    /* payload decoding (cmd.json / batch.json "error" values) */
    EDGE_ERR_MALFORMED,
    EDGE_ERR_BAD_FIELD,
    EDGE_ERR_BAD_OP,
    EDGE_ERR_BAD_ARG,
    EDGE_ERR_UNSUPPORTED_VERSION,
    EDGE_ERR_TOO_LARGE,      /* payload over EDGE_PAYLOAD_MAX */
    EDGE_ERR_NO_SPACE,       /* caller's output buffer too small */
    /* serial framing (frame.json / cobs.json "error" values) */
    EDGE_ERR_BAD_CRC,
    EDGE_ERR_BAD_COBS,
    EDGE_ERR_OVERSIZED,
    EDGE_ERR_TRUNCATED,
    EDGE_ERR_BAD_VERSION,
    EDGE_ERR_BAD_TYPE,
    /* runtime */
    EDGE_ERR_HAL,            /* a HAL call reported failure */
    EDGE_ERR_NOT_FOUND,
    EDGE_ERR_BAD_CONFIG
} edge_err_t;

/* Stable lower-case name, e.g. "bad_field"; "unknown" for out-of-range. */
const char *edge_err_name(edge_err_t err);

#endif
