/* Decode-side vectors (batch.json invalid + non-canonical, status.json
 * invalid). The node never decodes batches, so this checker lives in the
 * tests: it keeps the C build honest about every byte of the vector files,
 * using the core's hardened MessagePack reader. */
#include <string.h>

#include "decode_check.h"
#include "edge_vectors.h"
#include "harness.h"
#include "suites.h"

#include "edge_batch.h"
#include "edge_msgpack.h"
#include "edge_proto.h"


static bool copy_str(const edge_mp_item_t *it, char *dst, size_t max)
{
    if (it->kind != EDGE_MP_STR || it->len == 0 || it->len > max) {
        return false;
    }
    memcpy(dst, it->data, it->len);
    dst[it->len] = '\0';
    return true;
}

static bool read_uint(edge_mp_reader_t *r, uint64_t max, uint64_t *out)
{
    edge_mp_item_t it;
    if (edge_mp_read(r, &it) != EDGE_OK || it.kind != EDGE_MP_UINT || it.u > max) {
        return false;
    }
    *out = it.u;
    return true;
}

static bool read_value(edge_mp_reader_t *r, float *out)
{
    edge_mp_item_t it;
    if (edge_mp_read(r, &it) != EDGE_OK) {
        return false;
    }
    if (it.kind == EDGE_MP_FLOAT32 || it.kind == EDGE_MP_FLOAT64) {
        *out = (float)it.f;
    } else if (it.kind == EDGE_MP_UINT) {
        *out = (float)it.u;
    } else if (it.kind == EDGE_MP_NEGINT) {
        *out = (float)it.i;
    } else {
        return false;
    }
    return edge_valid_float(*out) && it.f == it.f;
}

static bool read_readings(edge_mp_reader_t *r, decoded_batch_t *b)
{
    edge_mp_item_t arr;
    if (edge_mp_read(r, &arr) != EDGE_OK || arr.kind != EDGE_MP_ARRAY ||
        arr.len < 1 || arr.len > EDGE_READINGS_MAX) {
        return false;
    }
    b->r_count = arr.len;
    for (uint32_t i = 0; i < arr.len; i++) {
        edge_mp_item_t triple, name;
        uint64_t off;
        if (edge_mp_read(r, &triple) != EDGE_OK || triple.kind != EDGE_MP_ARRAY ||
            triple.len != 3 || edge_mp_read(r, &name) != EDGE_OK ||
            !copy_str(&name, b->sensor[i], EDGE_SENSOR_NAME_MAX) ||
            !edge_valid_sensor_name(b->sensor[i]) ||
            !read_uint(r, UINT32_MAX, &off) || !read_value(r, &b->value[i])) {
            return false;
        }
        b->offset[i] = (uint32_t)off;
    }
    return true;
}

/* Returns the vector error name, or "ok". */
const char *batch_check(const uint8_t *p, size_t len, decoded_batch_t *b)
{
    if (len > EDGE_PAYLOAD_MAX) {
        return "too_large";
    }
    edge_mp_reader_t r;
    edge_mp_item_t map;
    edge_mp_reader_init(&r, p, len);
    if (edge_mp_read(&r, &map) != EDGE_OK) {
        return "malformed";
    }
    if (map.kind != EDGE_MP_MAP) {
        return edge_mp_skip(&(edge_mp_reader_t){p, p + len}) == EDGE_OK ? "not_a_map" : "malformed";
    }
    memset(b, 0, sizeof *b);
    unsigned seen = 0; /* bit per key of "vdbsftur" */
    bool bad = false;
    static const char keys[] = "vdbsftur";
    for (uint32_t i = 0; i < map.len; i++) {
        edge_mp_item_t key;
        if (edge_mp_read(&r, &key) != EDGE_OK) {
            return "malformed";
        }
        edge_mp_reader_t value = r;
        if (edge_mp_skip(&r) != EDGE_OK) {
            return "malformed";
        }
        const char *k = (key.kind == EDGE_MP_STR && key.len == 1)
                            ? strchr(keys, key.data[0]) : NULL;
        if (k == NULL || *k == '\0') {
            continue; /* unknown keys are ignored */
        }
        seen |= 1u << (k - keys);
        edge_mp_item_t it;
        bool ok;
        switch (*k) {
        case 'v': ok = read_uint(&value, UINT64_MAX, &b->v); break;
        case 'b': ok = read_uint(&value, UINT32_MAX, &b->b); break;
        case 's': ok = read_uint(&value, UINT32_MAX, &b->s); break;
        case 't': ok = read_uint(&value, UINT64_MAX, &b->t); break;
        case 'd':
            ok = edge_mp_read(&value, &it) == EDGE_OK &&
                 copy_str(&it, b->d, EDGE_DEVICE_ID_MAX) && edge_valid_device_id(b->d);
            break;
        case 'f':
            ok = edge_mp_read(&value, &it) == EDGE_OK && copy_str(&it, b->f, EDGE_FIRMWARE_MAX);
            break;
        case 'u':
            ok = edge_mp_read(&value, &it) == EDGE_OK && it.kind == EDGE_MP_BOOL;
            b->u = it.b;
            break;
        default: ok = read_readings(&value, b); break;
        }
        bad |= !ok;
    }
    if (edge_mp_remaining(&r) != 0) {
        return "malformed";
    }
    if ((seen & 1u) && b->v != EDGE_PROTOCOL_VERSION) {
        return "unsupported_version";
    }
    if (seen != 0xffu) {
        return "missing_field";
    }
    return bad ? "bad_field" : "ok";
}

/* Status: only what the invalid vectors need (structure, version). */
static const char *status_check(const uint8_t *p, size_t len)
{
    edge_mp_reader_t r;
    edge_mp_item_t map;
    edge_mp_reader_init(&r, p, len);
    if (edge_mp_read(&r, &map) != EDGE_OK || map.kind != EDGE_MP_MAP) {
        return "malformed";
    }
    uint64_t v = 0;
    bool have_v = false;
    for (uint32_t i = 0; i < map.len; i++) {
        edge_mp_item_t key;
        if (edge_mp_read(&r, &key) != EDGE_OK) {
            return "malformed";
        }
        edge_mp_reader_t value = r;
        if (edge_mp_skip(&r) != EDGE_OK) {
            return "malformed";
        }
        if (key.kind == EDGE_MP_STR && key.len == 1 && key.data[0] == 'v') {
            have_v = read_uint(&value, UINT64_MAX, &v);
        }
    }
    if (edge_mp_remaining(&r) != 0 || !have_v) {
        return "malformed";
    }
    return v == EDGE_PROTOCOL_VERSION ? "ok" : "unsupported_version";
}

bool status_field(const uint8_t *p, size_t len, const char *key, int64_t *out)
{
    edge_mp_reader_t r;
    edge_mp_item_t map;
    edge_mp_reader_init(&r, p, len);
    if (edge_mp_read(&r, &map) != EDGE_OK || map.kind != EDGE_MP_MAP) {
        return false;
    }
    for (uint32_t i = 0; i < map.len; i++) {
        edge_mp_item_t k, v;
        if (edge_mp_read(&r, &k) != EDGE_OK || edge_mp_read(&r, &v) != EDGE_OK) {
            return false;
        }
        if (k.kind == EDGE_MP_STR && k.len == strlen(key) && memcmp(k.data, key, k.len) == 0) {
            if (v.kind == EDGE_MP_UINT) {
                *out = (int64_t)v.u;
                return true;
            }
            if (v.kind == EDGE_MP_NEGINT) {
                *out = v.i;
                return true;
            }
            return false;
        }
    }
    return false;
}

static decoded_batch_t decoded;

void suite_decode_vectors(void)
{
    for (size_t i = 0; i < VEC_BATCH_COUNT; i++) {
        const vec_batch_t *v = &vec_batch[i];
        th_begin("decode.batch", v->name);
        CHECK(th_streq(batch_check(v->bytes, v->len, &decoded), "ok"));
        CHECK_EQ(decoded.v, v->v);
        CHECK(th_streq(decoded.d, v->d));
        CHECK_EQ(decoded.b, v->b);
        CHECK_EQ(decoded.s, v->s);
        CHECK(th_streq(decoded.f, v->f));
        CHECK_EQ(decoded.t, v->t);
        CHECK_EQ(decoded.u, v->u);
        CHECK_EQ(decoded.r_count, v->r_count);
        for (size_t k = 0; k < v->r_count && k < decoded.r_count; k++) {
            uint32_t bits;
            memcpy(&bits, &decoded.value[k], sizeof bits);
            CHECK(th_streq(decoded.sensor[k], v->r[k].sensor));
            CHECK_EQ(decoded.offset[k], v->r[k].offset);
            CHECK_EQ(bits, v->r[k].value_bits);
        }
        th_end();
    }
    for (size_t i = 0; i < VEC_BATCH_INVALID_COUNT; i++) {
        const vec_invalid_t *v = &vec_batch_invalid[i];
        th_begin("decode.batch_invalid", v->name);
        const char *got = batch_check(v->bytes, v->len, &decoded);
        CHECK(th_streq(got, v->error));
        th_end();
    }
    for (size_t i = 0; i < VEC_STATUS_COUNT; i++) {
        th_begin("decode.status", vec_status[i].name);
        CHECK(th_streq(status_check(vec_status[i].bytes, vec_status[i].len), "ok"));
        th_end();
    }
    for (size_t i = 0; i < VEC_STATUS_INVALID_COUNT; i++) {
        const vec_invalid_t *v = &vec_status_invalid[i];
        th_begin("decode.status_invalid", v->name);
        CHECK(th_streq(status_check(v->bytes, v->len), v->error));
        th_end();
    }
}
