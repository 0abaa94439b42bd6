/* edge_core as a WebAssembly module (simulator/nodes/wasm-core.ts drives it).
 *
 * The HAL is imported from JavaScript (module "env", hal_*); 64-bit values
 * cross as i64, which JavaScript sees as BigInt. The host hands strings and
 * payloads over through io_buf (wasm_io_buf/wasm_io_cap) and reads results
 * back from it. One node per instance, state static as on the ESP32. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "edge_node.h"

#define IMPORT(name) __attribute__((import_module("env"), import_name(name)))
#define EXPORT(name) __attribute__((export_name(name)))

IMPORT("hal_monotonic_ms") uint64_t js_monotonic_ms(void);
IMPORT("hal_wall_clock_ms") int64_t js_wall_clock_ms(void); /* < 0: not synced */
IMPORT("hal_read_sensor") float js_read_sensor(uint32_t index); /* NaN: no reading */
IMPORT("hal_mqtt_connected") int32_t js_mqtt_connected(void);
IMPORT("hal_mqtt_publish") int32_t js_mqtt_publish(const char *topic, const uint8_t *payload,
                                                   uint32_t len, uint32_t qos, uint32_t retain);
IMPORT("hal_mqtt_subscribe") int32_t js_mqtt_subscribe(const char *topic, uint32_t qos);
IMPORT("hal_kv_get") int32_t js_kv_get(const char *key, uint32_t *value);
IMPORT("hal_kv_set") int32_t js_kv_set(const char *key, uint32_t value);
IMPORT("hal_random") uint32_t js_random(void);
IMPORT("hal_log") void js_log(uint32_t level, const char *msg);
IMPORT("hal_rssi") int32_t js_rssi(void);
IMPORT("hal_reboot") void js_reboot(void);

/* simulator/nodes/wasm-core.ts returns these from hal_kv_get/hal_kv_set. */
_Static_assert(EDGE_OK == 0 && EDGE_ERR_HAL == 14 && EDGE_ERR_NOT_FOUND == 15, "wasm-core.ts mirrors these values");

static edge_node_t s_node;
static edge_hal_t s_hal;
static char s_io[2048];
static char s_cfg[512]; /* strings the config points into */
static const char *s_sensors[EDGE_SENSORS_MAX];

static uint64_t h_monotonic(void *ctx) { (void)ctx; return js_monotonic_ms(); }

static bool h_wall(void *ctx, uint64_t *epoch_ms)
{
    (void)ctx;
    int64_t v = js_wall_clock_ms();
    if (v < 0) {
        return false;
    }
    *epoch_ms = (uint64_t)v;
    return true;
}

static bool h_read_sensor(void *ctx, uint8_t index, float *value)
{
    (void)ctx;
    float v = js_read_sensor(index);
    *value = v;
    return v == v;
}

static bool h_connected(void *ctx) { (void)ctx; return js_mqtt_connected() != 0; }

static int32_t h_publish(void *ctx, const char *topic, const uint8_t *payload, size_t len,
                         uint8_t qos, bool retain)
{
    (void)ctx;
    return js_mqtt_publish(topic, payload, (uint32_t)len, qos, retain);
}

static bool h_subscribe(void *ctx, const char *topic, uint8_t qos)
{
    (void)ctx;
    return js_mqtt_subscribe(topic, qos) != 0;
}

static edge_err_t h_kv_get(void *ctx, const char *key, uint32_t *value)
{
    (void)ctx;
    return (edge_err_t)js_kv_get(key, value);
}

static edge_err_t h_kv_set(void *ctx, const char *key, uint32_t value)
{
    (void)ctx;
    return (edge_err_t)js_kv_set(key, value);
}

static uint32_t h_random(void *ctx) { (void)ctx; return js_random(); }
static void h_log(void *ctx, edge_log_level_t level, const char *msg) { (void)ctx; js_log(level, msg); }
static int32_t h_rssi(void *ctx) { (void)ctx; return js_rssi(); }
static void h_reboot(void *ctx) { (void)ctx; js_reboot(); }

EXPORT("wasm_io_buf") char *wasm_io_buf(void) { return s_io; }
EXPORT("wasm_io_cap") uint32_t wasm_io_cap(void) { return sizeof s_io; }

/* io_buf holds NUL-terminated strings: device, prefix, firmware, then one
 * per sensor (sensor_count of them). Returns an edge_err_t. */
EXPORT("wasm_init")
int32_t wasm_init(uint32_t sensor_count, uint32_t interval_ms, uint32_t batch_size,
                  uint32_t batch_max_age_ms, uint32_t mqtt_ack_timeout_ms,
                  uint32_t status_period_ms)
{
    if (sensor_count == 0 || sensor_count > EDGE_SENSORS_MAX) {
        return EDGE_ERR_BAD_CONFIG;
    }
    memcpy(s_cfg, s_io, sizeof s_cfg);
    s_cfg[sizeof s_cfg - 1] = '\0';
    const char *p = s_cfg;
    const char *end = s_cfg + sizeof s_cfg - 1;
    const char *fields[3 + EDGE_SENSORS_MAX];
    for (uint32_t i = 0; i < 3 + sensor_count; i++) {
        if (p >= end) {
            return EDGE_ERR_BAD_CONFIG;
        }
        fields[i] = p;
        p += strlen(p) + 1;
    }
    for (uint32_t i = 0; i < sensor_count; i++) {
        s_sensors[i] = fields[3 + i];
    }
    s_hal = (edge_hal_t){
        .monotonic_ms = h_monotonic,
        .wall_clock_ms = h_wall,
        .read_sensor = h_read_sensor,
        .mqtt_connected = h_connected,
        .mqtt_publish = h_publish,
        .mqtt_subscribe = h_subscribe,
        .kv_get_u32 = h_kv_get,
        .kv_set_u32 = h_kv_set,
        .random_u32 = h_random,
        .log = h_log,
        .wifi_rssi = h_rssi,
        .reboot = h_reboot,
    };
    edge_node_config_t cfg = {
        .device_id = fields[0],
        .topic_prefix = fields[1],
        .firmware = fields[2],
        .sensor_names = s_sensors,
        .sensor_count = (uint8_t)sensor_count,
        .transport = EDGE_TRANSPORT_MQTT,
        .interval_ms = interval_ms,
        .batch_size = batch_size,
        .batch_max_age_ms = batch_max_age_ms,
        .mqtt_ack_timeout_ms = mqtt_ack_timeout_ms,
        .status_period_ms = status_period_ms,
    };
    return edge_node_init(&s_node, &cfg, &s_hal);
}

EXPORT("wasm_step") void wasm_step(uint64_t now_ms) { edge_node_step(&s_node, now_ms); }
EXPORT("wasm_next_due_ms") uint64_t wasm_next_due_ms(void) { return edge_node_next_due_ms(&s_node); }
EXPORT("wasm_on_connected") void wasm_on_connected(void) { edge_node_on_connected(&s_node); }
EXPORT("wasm_on_disconnected") void wasm_on_disconnected(void) { edge_node_on_disconnected(&s_node); }
EXPORT("wasm_on_puback") void wasm_on_puback(int32_t mid) { edge_node_on_mqtt_puback(&s_node, mid); }
EXPORT("wasm_on_deleted") void wasm_on_deleted(int32_t mid) { edge_node_on_mqtt_deleted(&s_node, mid); }
EXPORT("wasm_flush") int32_t wasm_flush(void) { return edge_node_flush(&s_node); }

/* The command payload is in io_buf. */
EXPORT("wasm_on_command")
int32_t wasm_on_command(uint32_t len)
{
    if (len > sizeof s_io) {
        return EDGE_ERR_TOO_LARGE;
    }
    return edge_node_on_command(&s_node, (const uint8_t *)s_io, len);
}

/* Last will into io_buf: topic NUL-terminated at 0, payload at 256.
 * Returns the payload length, or -1. */
EXPORT("wasm_will")
int32_t wasm_will(void)
{
    size_t len = 0;
    if (edge_node_will(&s_node, s_io, 256, (uint8_t *)s_io + 256, sizeof s_io - 256, &len) != EDGE_OK) {
        return -1;
    }
    return (int32_t)len;
}

/* The cmd topic into io_buf, NUL-terminated; edge_err_t. */
EXPORT("wasm_cmd_topic")
int32_t wasm_cmd_topic(void)
{
    return edge_node_topic(&s_node, EDGE_TOPIC_CMD, s_io, sizeof s_io);
}

/* What the page and the tests show: settings and counters. */
EXPORT("wasm_boot") uint32_t wasm_boot(void) { return s_node.boot; }
EXPORT("wasm_next_seq") uint32_t wasm_next_seq(void) { return s_node.next_seq; }
EXPORT("wasm_interval_ms") uint32_t wasm_interval_ms(void) { return s_node.sched.interval_ms; }
EXPORT("wasm_batch_size") uint32_t wasm_batch_size(void) { return s_node.batcher.batch_size; }

static edge_node_stats_t s_stats;

/* Refreshes the counters the wasm_stat_* getters read. */
EXPORT("wasm_stats") void wasm_stats(void) { edge_node_stats(&s_node, &s_stats); }
EXPORT("wasm_stat_outbox") uint32_t wasm_stat_outbox(void) { return s_stats.outbox_batches; }
EXPORT("wasm_stat_acked") uint32_t wasm_stat_acked(void) { return s_stats.acked; }
EXPORT("wasm_stat_sent") uint32_t wasm_stat_sent(void) { return s_stats.sent; }
EXPORT("wasm_stat_dropped") uint32_t wasm_stat_dropped(void) { return s_stats.dropped; }
EXPORT("wasm_stat_cmd_applied") uint32_t wasm_stat_cmd_applied(void) { return s_stats.cmd_applied; }
EXPORT("wasm_stat_cmd_rejected") uint32_t wasm_stat_cmd_rejected(void) { return s_stats.cmd_rejected; }
EXPORT("wasm_stat_last_cmd") uint32_t wasm_stat_last_cmd(void) { return s_stats.last_cmd; }
EXPORT("wasm_stat_boot_committed") int32_t wasm_stat_boot_committed(void) { return s_stats.boot_committed; }
