/* The MessagePack subset the protocol needs.
 *
 * Writer: always emits the smallest form (PROTOCOL.md 3.1) so that C and
 * TypeScript encoders produce identical bytes. It never fails midway: an
 * overflow sets a sticky flag that the caller checks once at the end.
 *
 * Reader: hardened for untrusted input. Every length is checked against the
 * remaining bytes before use; skipping nested values is iterative, so hostile
 * nesting cannot exhaust the stack. */
#ifndef EDGE_MSGPACK_H
#define EDGE_MSGPACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "edge_err.h"

typedef struct {
    uint8_t *buf;
    size_t cap;
    size_t len;
    bool overflow;
} edge_mp_writer_t;

void edge_mp_writer_init(edge_mp_writer_t *w, uint8_t *buf, size_t cap);
void edge_mp_put_map(edge_mp_writer_t *w, uint32_t count);
void edge_mp_put_array(edge_mp_writer_t *w, uint32_t count);
void edge_mp_put_str(edge_mp_writer_t *w, const char *s, size_t len);
void edge_mp_put_uint(edge_mp_writer_t *w, uint64_t v);
void edge_mp_put_int(edge_mp_writer_t *w, int64_t v);
void edge_mp_put_float32(edge_mp_writer_t *w, float v);
void edge_mp_put_bool(edge_mp_writer_t *w, bool v);

typedef enum {
    EDGE_MP_NIL,
    EDGE_MP_BOOL,
    EDGE_MP_UINT,   /* any non-negative integer form: value in .u */
    EDGE_MP_NEGINT, /* negative integer: value in .i */
    EDGE_MP_FLOAT32,
    EDGE_MP_FLOAT64,
    EDGE_MP_STR,
    EDGE_MP_BIN,
    EDGE_MP_EXT,
    EDGE_MP_ARRAY,
    EDGE_MP_MAP
} edge_mp_kind_t;

typedef struct {
    edge_mp_kind_t kind;
    bool b;
    uint64_t u;
    int64_t i;
    double f;
    uint32_t len;          /* str/bin/ext bytes, array items, map pairs */
    const uint8_t *data;   /* str/bin/ext bytes, inside the input */
} edge_mp_item_t;

typedef struct {
    const uint8_t *pos;
    const uint8_t *end;
} edge_mp_reader_t;

void edge_mp_reader_init(edge_mp_reader_t *r, const uint8_t *buf, size_t len);
/* Reads one item header (and the bytes of a str/bin/ext). For arrays and
 * maps only the header is consumed. EDGE_ERR_MALFORMED on truncation or the
 * never-used byte 0xc1. */
edge_err_t edge_mp_read(edge_mp_reader_t *r, edge_mp_item_t *item);
/* Skips one complete value, containers included. */
edge_err_t edge_mp_skip(edge_mp_reader_t *r);
size_t edge_mp_remaining(const edge_mp_reader_t *r);

#endif
