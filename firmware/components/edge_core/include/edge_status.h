/* Status payload and last will (PROTOCOL.md section 5). */
#ifndef EDGE_STATUS_H
#define EDGE_STATUS_H

#include <stddef.h>
#include <stdint.h>

#include "edge_err.h"

/* A full status is always st = "online"; "offline" only exists as the will. */
typedef struct {
    const char *device;
    uint32_t boot;
    uint32_t uptime_s;
    int32_t rssi;        /* dBm, 0 when not on Wi-Fi */
    uint32_t heap;
    uint32_t drop;
    uint32_t interval_ms;
    uint32_t batch_size;
    uint32_t last_cmd;   /* id of the last applied command, 0 if none */
} edge_status_t;

/* Worst case: 11 keys, 64-byte device id, every uint32 in 5 bytes. */
#define EDGE_STATUS_MAX_LEN 160u
#define EDGE_WILL_MAX_LEN   96u

edge_err_t edge_status_encode(const edge_status_t *s,
                              uint8_t *out, size_t cap, size_t *out_len);
edge_err_t edge_will_encode(const char *device, uint32_t boot,
                            uint8_t *out, size_t cap, size_t *out_len);

#endif
