/* A fake HAL for host/QEMU tests: time, sensors, MQTT, serial and the kv
 * store are plain fields a test sets and inspects. */
#ifndef FAKE_HAL_H
#define FAKE_HAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "edge_hal.h"

#define FAKE_MAX_PUBS 48
#define FAKE_PAYLOAD_MAX 3200
#define FAKE_SERIAL_MAX 32768

typedef struct {
    char topic[200];
    uint8_t payload[FAKE_PAYLOAD_MAX];
    size_t len;
    uint8_t qos;
    bool retain;
    int32_t id;
} fake_pub_t;

typedef struct {
    uint64_t now;
    bool wall_synced;
    uint64_t wall_offset;   /* wall = now + offset when synced */
    float value[8];
    bool sensor_fails[8];
    bool connected;
    int32_t next_msg_id;
    bool publish_fails;
    fake_pub_t pubs[FAKE_MAX_PUBS];
    size_t n_pubs;
    char subscribed[200];
    uint8_t serial[FAKE_SERIAL_MAX];
    size_t serial_len;
    bool serial_fails;
    bool has_boot;
    uint32_t boot;
    bool kv_get_fails, kv_set_fails;
    unsigned kv_sets;
    unsigned reboots;
} fake_hal_t;

void fake_hal_init(fake_hal_t *f, edge_hal_t *hal);
/* Publishes on topics ending with `suffix`, in order. */
size_t fake_count_pubs(const fake_hal_t *f, const char *suffix);
const fake_pub_t *fake_nth_pub(const fake_hal_t *f, const char *suffix, size_t nth);
void fake_clear_pubs(fake_hal_t *f);

#endif
