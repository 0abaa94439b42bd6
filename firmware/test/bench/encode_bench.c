/* Instruction count per reading for the whole node pipeline: sample,
 * batch (16 readings), enqueue in the outbox, encode, publish, PUBACK.
 * `make callgrind` runs bench_run() under callgrind (collection toggled on
 * that function only) and divides by the readings it produced. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge_node.h"

#define BATCHES 1000u
#define READINGS (BATCHES * 16u)

static uint64_t now;
static int32_t last_id;
static float value = 20.0f;

static uint64_t mono(void *ctx) { (void)ctx; return now; }
static bool wall(void *ctx, uint64_t *ms) { (void)ctx; *ms = 1700000000000ull + now; return true; }
static bool read_sensor(void *ctx, uint8_t i, float *v) { (void)ctx; (void)i; value += 0.25f; *v = value; return true; }
static bool connected(void *ctx) { (void)ctx; return true; }
static int32_t publish(void *ctx, const char *t, const uint8_t *p, size_t n, uint8_t q, bool r)
{
    (void)ctx; (void)t; (void)p; (void)n; (void)q; (void)r;
    return ++last_id;
}
static bool subscribe(void *ctx, const char *t, uint8_t q) { (void)ctx; (void)t; (void)q; return true; }
static edge_err_t kv_get(void *ctx, const char *k, uint32_t *v) { (void)ctx; (void)k; *v = 1; return EDGE_OK; }
static edge_err_t kv_set(void *ctx, const char *k, uint32_t v) { (void)ctx; (void)k; (void)v; return EDGE_OK; }

static const edge_hal_t hal = {
    .monotonic_ms = mono, .wall_clock_ms = wall, .read_sensor = read_sensor,
    .mqtt_connected = connected, .mqtt_publish = publish, .mqtt_subscribe = subscribe,
    .kv_get_u32 = kv_get, .kv_set_u32 = kv_set,
};
static const char *const sensors[] = {"temperature"};
static edge_node_t node;

/* Kept out of line: callgrind collects only inside this function. */
__attribute__((noinline)) void bench_run(void)
{
    for (uint32_t i = 0; i < READINGS; i++) {
        now += 100;
        edge_node_step(&node, now);
        edge_node_on_mqtt_puback(&node, last_id);
    }
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--report") == 0) {
        unsigned long long ir = strtoull(argv[2], NULL, 10);
        printf("%u readings in %u batches of 16: %llu instructions, %.0f per reading\n",
               READINGS, BATCHES, ir, (double)ir / READINGS);
        return 0;
    }
    edge_node_config_t cfg = {
        .device_id = "esp32-a1b2c3d4e5f6", .firmware = "1.0.0",
        .sensor_names = sensors, .sensor_count = 1, .interval_ms = 100,
        .batch_size = 16, .transport = EDGE_TRANSPORT_MQTT,
    };
    if (edge_node_init(&node, &cfg, &hal) != EDGE_OK) {
        return 1;
    }
    edge_node_on_connected(&node);
    bench_run();
    edge_node_stats_t st;
    edge_node_stats(&node, &st);
    if (st.acked < BATCHES - 1) {
        fprintf(stderr, "only %u batches acked\n", st.acked);
        return 1;
    }
    return 0;
}
