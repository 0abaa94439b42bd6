/* DHT22 pulse-train decoding. The trains have the shape an RMT capture of a
 * real sensor has: the tail of the host's start signal, the host's release,
 * the sensor's answer and 40 bits, with per-pulse jitter within the
 * datasheet's ranges; one long pulse arrives split in two, as a capture
 * whose symbol filled up would give it. */
#include <string.h>

#include "harness.h"
#include "suites.h"

#include "edge_dht22.h"

#define TRAIN_MAX 100

typedef struct {
    edge_pulse_t p[TRAIN_MAX];
    size_t n;
} train_t;

static void add(train_t *t, bool high, uint16_t us)
{
    if (t->n < TRAIN_MAX) {
        t->p[t->n++] = (edge_pulse_t){high, us};
    }
}

/* Jitter that repeats per position, like one recorded train. */
static uint16_t jitter(size_t i, uint16_t spread)
{
    static const int8_t j[] = {0, 2, -1, 3, -2, 1, 4, -3, 2, -1, 0, 3};
    int v = j[i % sizeof j] * (int)spread / 4;
    return (uint16_t)(v < 0 ? 0 : v);
}

static train_t make_train(const uint8_t bytes[5])
{
    train_t t = {.n = 0};
    add(&t, false, 3);   /* tail of the start signal when the capture began */
    add(&t, true, 31);   /* host releases the line */
    add(&t, false, 81);  /* answer */
    add(&t, true, 79);
    for (size_t bit = 0; bit < 40; bit++) {
        bool one = (bytes[bit / 8] >> (7 - bit % 8)) & 1u;
        add(&t, false, (uint16_t)(49 + jitter(bit, 8)));
        add(&t, true, (uint16_t)((one ? 68 : 25) + jitter(bit + 5, 8)));
    }
    add(&t, false, 52);  /* end of transmission, then idle */
    return t;
}

/* AM2302 datasheet example: 65.2 %RH, 35.1 C. */
static const uint8_t DATASHEET[5] = {0x02, 0x8c, 0x01, 0x5f, 0xee};

static void dht22_decodes_good_reading(void)
{
    train_t t = make_train(DATASHEET);
    edge_dht22_reading_t r;
    CHECK_EQ(edge_dht22_decode(t.p, t.n, &r), EDGE_DHT22_OK);
    CHECK_MEM(r.raw, 5, DATASHEET, 5);
    CHECK(r.humidity_pct > 65.15f && r.humidity_pct < 65.25f);
    CHECK(r.temperature_c > 35.05f && r.temperature_c < 35.15f);
}

static void dht22_decodes_below_zero(void)
{
    static const uint8_t cold[5] = {0x01, 0xf4, 0x80, 0x65, 0xda}; /* 50.0 %, -10.1 C */
    train_t t = make_train(cold);
    edge_dht22_reading_t r;
    CHECK_EQ(edge_dht22_decode(t.p, t.n, &r), EDGE_DHT22_OK);
    CHECK(r.humidity_pct > 49.95f && r.humidity_pct < 50.05f);
    CHECK(r.temperature_c < -10.05f && r.temperature_c > -10.15f);
}

static void dht22_joins_split_pulses(void)
{
    train_t t = make_train(DATASHEET);
    /* split the answer's high pulse (index 3) into 40 + 39 us, and put a
     * zero-length pulse (a capture's end marker) in the middle of the bits */
    train_t s = {.n = 0};
    for (size_t i = 0; i < t.n; i++) {
        if (i == 3) {
            add(&s, true, 40);
            add(&s, true, 39);
        } else {
            add(&s, t.p[i].high, t.p[i].duration_us);
        }
        if (i == 30) {
            add(&s, !t.p[i].high, 0);
        }
    }
    edge_dht22_reading_t r;
    CHECK_EQ(edge_dht22_decode(s.p, s.n, &r), EDGE_DHT22_OK);
    CHECK_MEM(r.raw, 5, DATASHEET, 5);
}

static void dht22_reports_checksum_error(void)
{
    uint8_t bad[5];
    memcpy(bad, DATASHEET, 5);
    bad[1] ^= 0x04; /* one bit flipped on the wire */
    train_t t = make_train(bad);
    edge_dht22_reading_t r;
    CHECK_EQ(edge_dht22_decode(t.p, t.n, &r), EDGE_DHT22_CHECKSUM);
    CHECK_MEM(r.raw, 5, bad, 5);
}

static void dht22_reports_no_response(void)
{
    edge_dht22_reading_t r;
    CHECK_EQ(edge_dht22_decode(NULL, 0, &r), EDGE_DHT22_NO_RESPONSE);
    /* the host's start and release, then the line just stays high */
    static const edge_pulse_t idle[] = {{false, 1100}, {true, 200}};
    CHECK_EQ(edge_dht22_decode(idle, 2, &r), EDGE_DHT22_NO_RESPONSE);
    /* a line held low (sensor missing, pull-up absent) */
    static const edge_pulse_t stuck[] = {{false, 1100}, {false, 5000}};
    CHECK_EQ(edge_dht22_decode(stuck, 2, &r), EDGE_DHT22_NO_RESPONSE);
}

static void dht22_reports_truncated_train(void)
{
    train_t t = make_train(DATASHEET);
    edge_dht22_reading_t r;
    /* capture ended after 20 of the 40 bits */
    CHECK_EQ(edge_dht22_decode(t.p, 4 + 2 * 20, &r), EDGE_DHT22_TRUNCATED);
    /* last bit's high pulse missing */
    CHECK_EQ(edge_dht22_decode(t.p, t.n - 2, &r), EDGE_DHT22_TRUNCATED);
    /* a stretched pulse mid-train (interference, a missed edge) */
    t.p[20].duration_us = 400;
    CHECK_EQ(edge_dht22_decode(t.p, t.n, &r), EDGE_DHT22_TRUNCATED);
}

void suite_dht22(void)
{
    RUN("dht22", dht22_decodes_good_reading);
    RUN("dht22", dht22_decodes_below_zero);
    RUN("dht22", dht22_joins_split_pulses);
    RUN("dht22", dht22_reports_checksum_error);
    RUN("dht22", dht22_reports_no_response);
    RUN("dht22", dht22_reports_truncated_train);
}
