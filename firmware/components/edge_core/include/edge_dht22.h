/* DHT22 / AM2302 answer decoded from a captured pulse train (ESP32: the RMT
 * receiver's symbols, flattened), so the timing-critical part is hardware and
 * the decoding is a pure, host-tested function.
 *
 * The line as the sensor drives it, after the host's start signal:
 *   response: low ~80 us, high ~80 us;
 *   40 bits, MSB first: low ~50 us, then high ~26-28 us (0) or ~70 us (1);
 *   end: low ~50 us, then the line is released (idle high).
 * A bit is told by comparing its high pulse with the low pulse before it, not
 * by fixed thresholds, so clock skew does not matter much.
 * Bytes: humidity x10 (16 bit), temperature x10 (15 bit, top bit = below
 * zero), checksum = low byte of the sum of the first four. */
#ifndef EDGE_DHT22_H
#define EDGE_DHT22_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    bool high;            /* line level during the pulse */
    uint16_t duration_us;
} edge_pulse_t;

typedef enum {
    EDGE_DHT22_OK = 0,
    EDGE_DHT22_NO_RESPONSE, /* no ~80 us low/high answer in the train */
    EDGE_DHT22_TRUNCATED,   /* answered, but fewer than 40 well-formed bits */
    EDGE_DHT22_CHECKSUM
} edge_dht22_result_t;

typedef struct {
    uint8_t raw[5];
    float humidity_pct;
    float temperature_c;
} edge_dht22_reading_t;

/* Pulses in time order; zero-length pulses are skipped and adjacent pulses
 * of one level are joined (a capture may split a long pulse). */
edge_dht22_result_t edge_dht22_decode(const edge_pulse_t *pulses, size_t count,
                                      edge_dht22_reading_t *out);
const char *edge_dht22_result_name(edge_dht22_result_t r);

#endif
