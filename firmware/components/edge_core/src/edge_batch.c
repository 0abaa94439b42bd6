#include "edge_batch.h"

#include <string.h>

#include "edge_proto.h"

static bool in_charset(const char *s, size_t max, bool allow_upper_dash)
{
    size_t n = 0;
    for (; s[n] != '\0'; n++) {
        char c = s[n];
        bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
                  (allow_upper_dash && ((c >= 'A' && c <= 'Z') || c == '-'));
        if (!ok || n >= max) {
            return false;
        }
    }
    return n > 0;
}

bool edge_valid_device_id(const char *s)
{
    return s != NULL && in_charset(s, EDGE_DEVICE_ID_MAX, true);
}

bool edge_valid_sensor_name(const char *s)
{
    return s != NULL && in_charset(s, EDGE_SENSOR_NAME_MAX, false);
}

bool edge_valid_firmware(const char *s)
{
    if (s == NULL) {
        return false;
    }
    size_t n = strlen(s);
    return n >= 1 && n <= EDGE_FIRMWARE_MAX;
}

bool edge_valid_float(float v)
{
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits);
    return (bits & 0x7f800000u) != 0x7f800000u; /* exponent all ones: NaN/Inf */
}

static void put_key(edge_mp_writer_t *w, const char *key)
{
    edge_mp_put_str(w, key, strlen(key));
}

edge_err_t edge_batch_begin(edge_mp_writer_t *w, const edge_batch_header_t *h,
                            size_t reading_count)
{
    if (!edge_valid_device_id(h->device) || !edge_valid_firmware(h->firmware) ||
        reading_count < 1 || reading_count > EDGE_READINGS_MAX) {
        return EDGE_ERR_BAD_FIELD;
    }
    edge_mp_put_map(w, 8);
    put_key(w, "v");
    edge_mp_put_uint(w, EDGE_PROTOCOL_VERSION);
    put_key(w, "d");
    edge_mp_put_str(w, h->device, strlen(h->device));
    put_key(w, "b");
    edge_mp_put_uint(w, h->boot);
    put_key(w, "s");
    edge_mp_put_uint(w, h->seq);
    put_key(w, "f");
    edge_mp_put_str(w, h->firmware, strlen(h->firmware));
    put_key(w, "t");
    edge_mp_put_uint(w, h->time_ms);
    put_key(w, "u");
    edge_mp_put_bool(w, h->unsynced);
    put_key(w, "r");
    edge_mp_put_array(w, (uint32_t)reading_count);
    return EDGE_OK;
}

edge_err_t edge_batch_add(edge_mp_writer_t *w, const char *sensor,
                          uint32_t offset_ms, float value)
{
    if (!edge_valid_sensor_name(sensor) || !edge_valid_float(value)) {
        return EDGE_ERR_BAD_FIELD;
    }
    edge_mp_put_array(w, 3);
    edge_mp_put_str(w, sensor, strlen(sensor));
    edge_mp_put_uint(w, offset_ms);
    edge_mp_put_float32(w, value);
    return EDGE_OK;
}

edge_err_t edge_batch_finish(const edge_mp_writer_t *w)
{
    if (w->overflow) {
        return w->cap >= EDGE_PAYLOAD_MAX ? EDGE_ERR_TOO_LARGE : EDGE_ERR_NO_SPACE;
    }
    return w->len > EDGE_PAYLOAD_MAX ? EDGE_ERR_TOO_LARGE : EDGE_OK;
}

edge_err_t edge_batch_encode(const edge_batch_header_t *h,
                             const edge_reading_t *readings, size_t count,
                             uint8_t *out, size_t cap, size_t *out_len)
{
    edge_mp_writer_t w;
    edge_mp_writer_init(&w, out, cap);
    edge_err_t err = edge_batch_begin(&w, h, count);
    for (size_t i = 0; i < count && err == EDGE_OK; i++) {
        err = edge_batch_add(&w, readings[i].sensor, readings[i].offset_ms,
                             readings[i].value);
    }
    if (err == EDGE_OK) {
        err = edge_batch_finish(&w);
    }
    if (err == EDGE_OK) {
        *out_len = w.len;
    }
    return err;
}
