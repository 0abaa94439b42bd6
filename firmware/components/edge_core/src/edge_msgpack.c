#include "edge_msgpack.h"

#include <string.h>

/* ---- writer ---- */

void edge_mp_writer_init(edge_mp_writer_t *w, uint8_t *buf, size_t cap)
{
    w->buf = buf;
    w->cap = cap;
    w->len = 0;
    w->overflow = false;
}

static uint8_t *reserve(edge_mp_writer_t *w, size_t n)
{
    if (w->overflow || w->cap - w->len < n) {
        w->overflow = true;
        return NULL;
    }
    uint8_t *p = w->buf + w->len;
    w->len += n;
    return p;
}

static void put_tag_be(edge_mp_writer_t *w, uint8_t tag, uint64_t v, size_t n)
{
    uint8_t *p = reserve(w, 1 + n);
    if (!p) {
        return;
    }
    p[0] = tag;
    for (size_t i = 0; i < n; i++) {
        p[n - i] = (uint8_t)(v >> (8 * i));
    }
}

static void put_byte(edge_mp_writer_t *w, uint8_t b)
{
    uint8_t *p = reserve(w, 1);
    if (p) {
        *p = b;
    }
}

void edge_mp_put_uint(edge_mp_writer_t *w, uint64_t v)
{
    if (v <= 0x7f) {
        put_byte(w, (uint8_t)v);
    } else if (v <= 0xff) {
        put_tag_be(w, 0xcc, v, 1);
    } else if (v <= 0xffff) {
        put_tag_be(w, 0xcd, v, 2);
    } else if (v <= 0xffffffffu) {
        put_tag_be(w, 0xce, v, 4);
    } else {
        put_tag_be(w, 0xcf, v, 8);
    }
}

void edge_mp_put_int(edge_mp_writer_t *w, int64_t v)
{
    if (v >= 0) {
        edge_mp_put_uint(w, (uint64_t)v);
    } else if (v >= -32) {
        put_byte(w, (uint8_t)(0xe0 | (uint8_t)(v & 0x1f)));
    } else if (v >= INT8_MIN) {
        put_tag_be(w, 0xd0, (uint64_t)v, 1);
    } else if (v >= INT16_MIN) {
        put_tag_be(w, 0xd1, (uint64_t)v, 2);
    } else if (v >= INT32_MIN) {
        put_tag_be(w, 0xd2, (uint64_t)v, 4);
    } else {
        put_tag_be(w, 0xd3, (uint64_t)v, 8);
    }
}

void edge_mp_put_str(edge_mp_writer_t *w, const char *s, size_t len)
{
    if (len <= 31) {
        put_byte(w, (uint8_t)(0xa0 | len));
    } else if (len <= 0xff) {
        put_tag_be(w, 0xd9, len, 1);
    } else if (len <= 0xffff) {
        put_tag_be(w, 0xda, len, 2);
    } else {
        put_tag_be(w, 0xdb, len, 4);
    }
    uint8_t *p = reserve(w, len);
    if (p && len) {
        memcpy(p, s, len);
    }
}

void edge_mp_put_map(edge_mp_writer_t *w, uint32_t count)
{
    if (count <= 15) {
        put_byte(w, (uint8_t)(0x80 | count));
    } else if (count <= 0xffff) {
        put_tag_be(w, 0xde, count, 2);
    } else {
        put_tag_be(w, 0xdf, count, 4);
    }
}

void edge_mp_put_array(edge_mp_writer_t *w, uint32_t count)
{
    if (count <= 15) {
        put_byte(w, (uint8_t)(0x90 | count));
    } else if (count <= 0xffff) {
        put_tag_be(w, 0xdc, count, 2);
    } else {
        put_tag_be(w, 0xdd, count, 4);
    }
}

void edge_mp_put_float32(edge_mp_writer_t *w, float v)
{
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits);
    put_tag_be(w, 0xca, bits, 4);
}

void edge_mp_put_bool(edge_mp_writer_t *w, bool v)
{
    put_byte(w, v ? 0xc3 : 0xc2);
}

/* ---- reader ---- */

void edge_mp_reader_init(edge_mp_reader_t *r, const uint8_t *buf, size_t len)
{
    r->pos = buf;
    r->end = buf + len;
}

size_t edge_mp_remaining(const edge_mp_reader_t *r)
{
    return (size_t)(r->end - r->pos);
}

static bool take_be(edge_mp_reader_t *r, size_t n, uint64_t *v)
{
    if (edge_mp_remaining(r) < n) {
        return false;
    }
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        x = (x << 8) | r->pos[i];
    }
    r->pos += n;
    *v = x;
    return true;
}

/* Consumes `len` payload bytes of a str/bin/ext, bounds-checked first. */
static bool take_bytes(edge_mp_reader_t *r, uint64_t len, edge_mp_item_t *it)
{
    if (len > edge_mp_remaining(r)) {
        return false;
    }
    it->len = (uint32_t)len;
    it->data = r->pos;
    r->pos += len;
    return true;
}

static int64_t sign_extend(uint64_t v, unsigned bytes)
{
    unsigned shift = 64 - 8 * bytes;
    return (int64_t)(v << shift) >> shift;
}

edge_err_t edge_mp_read(edge_mp_reader_t *r, edge_mp_item_t *it)
{
    if (r->pos >= r->end) {
        return EDGE_ERR_MALFORMED;
    }
    memset(it, 0, sizeof *it);
    uint8_t tag = *r->pos++;
    uint64_t v = 0;

    if (tag <= 0x7f) {
        it->kind = EDGE_MP_UINT;
        it->u = tag;
        return EDGE_OK;
    }
    if (tag >= 0xe0) {
        it->kind = EDGE_MP_NEGINT;
        it->i = (int8_t)tag;
        return EDGE_OK;
    }
    if ((tag & 0xf0) == 0x80) {
        it->kind = EDGE_MP_MAP;
        it->len = tag & 0x0f;
        return EDGE_OK;
    }
    if ((tag & 0xf0) == 0x90) {
        it->kind = EDGE_MP_ARRAY;
        it->len = tag & 0x0f;
        return EDGE_OK;
    }
    if ((tag & 0xe0) == 0xa0) {
        it->kind = EDGE_MP_STR;
        return take_bytes(r, tag & 0x1f, it) ? EDGE_OK : EDGE_ERR_MALFORMED;
    }

    static const uint8_t uint_width[4] = {1, 2, 4, 8};
    switch (tag) {
    case 0xc0: it->kind = EDGE_MP_NIL; return EDGE_OK;
    case 0xc2:
    case 0xc3: it->kind = EDGE_MP_BOOL; it->b = (tag == 0xc3); return EDGE_OK;
    case 0xcc: case 0xcd: case 0xce: case 0xcf:
        if (!take_be(r, uint_width[tag - 0xcc], &v)) {
            return EDGE_ERR_MALFORMED;
        }
        it->kind = EDGE_MP_UINT;
        it->u = v;
        return EDGE_OK;
    case 0xd0: case 0xd1: case 0xd2: case 0xd3: {
        unsigned n = uint_width[tag - 0xd0];
        if (!take_be(r, n, &v)) {
            return EDGE_ERR_MALFORMED;
        }
        int64_t s = sign_extend(v, n);
        if (s >= 0) {
            it->kind = EDGE_MP_UINT;
            it->u = (uint64_t)s;
        } else {
            it->kind = EDGE_MP_NEGINT;
            it->i = s;
        }
        return EDGE_OK;
    }
    case 0xca: {
        if (!take_be(r, 4, &v)) {
            return EDGE_ERR_MALFORMED;
        }
        uint32_t bits = (uint32_t)v;
        float f;
        memcpy(&f, &bits, sizeof f);
        it->kind = EDGE_MP_FLOAT32;
        it->f = f;
        return EDGE_OK;
    }
    case 0xcb: {
        if (!take_be(r, 8, &v)) {
            return EDGE_ERR_MALFORMED;
        }
        double d;
        memcpy(&d, &v, sizeof d);
        it->kind = EDGE_MP_FLOAT64;
        it->f = d;
        return EDGE_OK;
    }
    case 0xd9: case 0xda: case 0xdb:
        it->kind = EDGE_MP_STR;
        return take_be(r, uint_width[tag - 0xd9], &v) && take_bytes(r, v, it)
                   ? EDGE_OK : EDGE_ERR_MALFORMED;
    case 0xc4: case 0xc5: case 0xc6:
        it->kind = EDGE_MP_BIN;
        return take_be(r, uint_width[tag - 0xc4], &v) && take_bytes(r, v, it)
                   ? EDGE_OK : EDGE_ERR_MALFORMED;
    case 0xdc: case 0xdd:
        if (!take_be(r, tag == 0xdc ? 2 : 4, &v)) {
            return EDGE_ERR_MALFORMED;
        }
        it->kind = EDGE_MP_ARRAY;
        it->len = (uint32_t)v;
        return EDGE_OK;
    case 0xde: case 0xdf:
        if (!take_be(r, tag == 0xde ? 2 : 4, &v)) {
            return EDGE_ERR_MALFORMED;
        }
        it->kind = EDGE_MP_MAP;
        it->len = (uint32_t)v;
        return EDGE_OK;
    case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8:
        /* fixext 1/2/4/8/16: type byte + fixed data */
        it->kind = EDGE_MP_EXT;
        return take_be(r, 1, &v) && take_bytes(r, 1u << (tag - 0xd4), it)
                   ? EDGE_OK : EDGE_ERR_MALFORMED;
    case 0xc7: case 0xc8: case 0xc9: {
        uint64_t n;
        it->kind = EDGE_MP_EXT;
        return take_be(r, uint_width[tag - 0xc7], &n) && take_be(r, 1, &v) &&
                       take_bytes(r, n, it)
                   ? EDGE_OK : EDGE_ERR_MALFORMED;
    }
    default: /* 0xc1 is never used */
        return EDGE_ERR_MALFORMED;
    }
}

edge_err_t edge_mp_skip(edge_mp_reader_t *r)
{
    /* Count of values still to skip; containers add their children. Every
     * value takes at least one byte, so a count above the remaining bytes
     * is malformed and rejected before it can loop for long. */
    uint64_t pending = 1;
    while (pending > 0) {
        edge_mp_item_t it;
        edge_err_t err = edge_mp_read(r, &it);
        if (err != EDGE_OK) {
            return err;
        }
        pending--;
        if (it.kind == EDGE_MP_ARRAY) {
            pending += it.len;
        } else if (it.kind == EDGE_MP_MAP) {
            pending += 2 * (uint64_t)it.len;
        }
        if (pending > edge_mp_remaining(r)) {
            return EDGE_ERR_MALFORMED;
        }
    }
    return EDGE_OK;
}
