/* edge_hal.h: the ONLY seam between the portable core and a platform.
 *
 * A port (ESP-IDF, POSIX, the host-test fake) fills one edge_hal_t with
 * function pointers and passes it to edge_node_init(); the core never
 * includes a platform header. Every function gets the port's `ctx`.
 * Calls are made from the thread that calls edge_node_*; a port that has
 * other threads (MQTT event task, UART task) must hand events over to it.
 *
 * Required: monotonic_ms, kv_get_u32, kv_set_u32. Everything else may be
 * NULL and then reads as "absent" (no sensors, never connected, 0 rssi...).
 */
#ifndef EDGE_HAL_H
#define EDGE_HAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "edge_err.h"

typedef enum {
    EDGE_LOG_ERROR,
    EDGE_LOG_WARN,
    EDGE_LOG_INFO,
    EDGE_LOG_DEBUG
} edge_log_level_t;

typedef struct edge_hal {
    void *ctx;

    /* Clocks. monotonic: ms since an arbitrary start, never goes back.
     * wall: Unix epoch ms; returns false while the clock is not synced. */
    uint64_t (*monotonic_ms)(void *ctx);
    bool (*wall_clock_ms)(void *ctx, uint64_t *epoch_ms);

    /* Sensor `index` of the node config's sensor list. false: no reading
     * this tick (the core skips it). NaN/inf values are skipped too. */
    bool (*read_sensor)(void *ctx, uint8_t index, float *value);

    /* MQTT. publish returns a message id >= 0 (matched later by
     * edge_node_on_mqtt_puback for QoS 1; any value for QoS 0), or < 0 when
     * the message was not queued (-1 error, -2 client outbox full). */
    bool (*mqtt_connected)(void *ctx);
    int32_t (*mqtt_publish)(void *ctx, const char *topic, const uint8_t *payload,
                            size_t len, uint8_t qos, bool retain);
    bool (*mqtt_subscribe)(void *ctx, const char *topic, uint8_t qos);

    /* Serial: write all bytes or return false. Reads are pushed into the
     * core with edge_node_on_serial_bytes(). */
    bool (*serial_write)(void *ctx, const uint8_t *data, size_t len);

    /* Persistent key/value (NVS namespace "edge" / files under
     * --state-dir). get: EDGE_ERR_NOT_FOUND when absent. set: EDGE_OK only
     * once the value is durable (committed). */
    edge_err_t (*kv_get_u32)(void *ctx, const char *key, uint32_t *value);
    edge_err_t (*kv_set_u32)(void *ctx, const char *key, uint32_t value);

    uint32_t (*random_u32)(void *ctx);   /* jitter; need not be secure */
    void (*log)(void *ctx, edge_log_level_t level, const char *msg);

    /* For the status message; NULL reads as 0. */
    int32_t (*wifi_rssi)(void *ctx);
    uint32_t (*free_heap)(void *ctx);

    /* Restart the device (command "reboot"). May return on platforms that
     * cannot reboot; the core then carries on. */
    void (*reboot)(void *ctx);
} edge_hal_t;

#endif
