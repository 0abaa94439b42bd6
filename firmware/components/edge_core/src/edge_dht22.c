#include "edge_dht22.h"

#define RESPONSE_MIN_US 40u
#define RESPONSE_MAX_US 120u
#define BIT_LOW_MIN_US  20u
#define BIT_LOW_MAX_US  120u
#define BIT_HIGH_MIN_US 8u
#define BIT_HIGH_MAX_US 120u
#define BITS 40u

typedef struct {
    const edge_pulse_t *p;
    size_t n;
    size_t i;
} reader_t;

/* Next pulse with adjacent pulses of the same level joined. */
static bool next_pulse(reader_t *r, bool *high, uint32_t *us)
{
    while (r->i < r->n && r->p[r->i].duration_us == 0) {
        r->i++;
    }
    if (r->i >= r->n) {
        return false;
    }
    *high = r->p[r->i].high;
    *us = 0;
    while (r->i < r->n && (r->p[r->i].duration_us == 0 || r->p[r->i].high == *high)) {
        *us += r->p[r->i].duration_us;
        r->i++;
    }
    return true;
}

static bool in_range(uint32_t v, uint32_t lo, uint32_t hi)
{
    return v >= lo && v <= hi;
}

edge_dht22_result_t edge_dht22_decode(const edge_pulse_t *pulses, size_t count,
                                      edge_dht22_reading_t *out)
{
    reader_t r = {pulses, count, 0};
    bool high = false;
    uint32_t us = 0;
    uint32_t prev_low = 0;
    bool found = false;
    /* the answer is the first low of response length followed by a high of
     * response length; anything before it is the host's start signal */
    while (!found && next_pulse(&r, &high, &us)) {
        if (!high) {
            prev_low = us;
        } else if (in_range(prev_low, RESPONSE_MIN_US, RESPONSE_MAX_US) &&
                   in_range(us, RESPONSE_MIN_US, RESPONSE_MAX_US)) {
            found = true;
        } else {
            prev_low = 0;
        }
    }
    if (!found) {
        return EDGE_DHT22_NO_RESPONSE;
    }
    uint8_t b[5] = {0};
    for (unsigned bit = 0; bit < BITS; bit++) {
        uint32_t low_us = 0;
        uint32_t high_us = 0;
        if (!next_pulse(&r, &high, &low_us) || high ||
            !in_range(low_us, BIT_LOW_MIN_US, BIT_LOW_MAX_US) ||
            !next_pulse(&r, &high, &high_us) || !high ||
            !in_range(high_us, BIT_HIGH_MIN_US, BIT_HIGH_MAX_US)) {
            return EDGE_DHT22_TRUNCATED;
        }
        b[bit / 8u] = (uint8_t)((b[bit / 8u] << 1) | (high_us > low_us ? 1u : 0u));
    }
    for (unsigned k = 0; k < 5; k++) {
        out->raw[k] = b[k];
    }
    if ((uint8_t)(b[0] + b[1] + b[2] + b[3]) != b[4]) {
        return EDGE_DHT22_CHECKSUM;
    }
    uint16_t rh = (uint16_t)((b[0] << 8) | b[1]);
    uint16_t t = (uint16_t)(((b[2] & 0x7fu) << 8) | b[3]);
    out->humidity_pct = (float)rh / 10.0f;
    out->temperature_c = (float)t / 10.0f * ((b[2] & 0x80u) ? -1.0f : 1.0f);
    return EDGE_DHT22_OK;
}

const char *edge_dht22_result_name(edge_dht22_result_t r)
{
    switch (r) {
    case EDGE_DHT22_OK: return "ok";
    case EDGE_DHT22_NO_RESPONSE: return "no response";
    case EDGE_DHT22_TRUNCATED: return "truncated";
    case EDGE_DHT22_CHECKSUM: return "checksum";
    default: return "unknown";
    }
}
