/* edge_hal_t for Linux: clocks, synthetic sensors, boot counter in files,
 * transports routed to libmosquitto or a serial fd. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "posix_port.h"

uint64_t posix_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t h_monotonic(void *ctx)
{
    const posix_ctx_t *c = ctx;
    return c->virtual_clock ? c->vclock : posix_now_ms();
}

/* A Linux host is assumed NTP-synced, like an ESP32 after SNTP. */
static bool h_wall(void *ctx, uint64_t *epoch_ms)
{
    const posix_ctx_t *c = ctx;
    if (c->virtual_clock) {
        *epoch_ms = c->vclock;
        return true;
    }
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0) {
        return false;
    }
    *epoch_ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
    return true;
}

static bool h_read_sensor(void *ctx, uint8_t index, float *value)
{
    posix_ctx_t *c = ctx;
    if (index >= c->opts->sensor_count) {
        return false;
    }
    if (c->readings.rows > 0) {
        uint32_t k = c->sensors.tick[index]++;
        *value = c->readings.value[(size_t)(k % c->readings.rows) * c->readings.cols + index];
        return true;
    }
    *value = posix_sensor_next(&c->sensors, c->opts->sensors[index], index);
    return true;
}

static bool h_mqtt_connected(void *ctx)
{
    posix_ctx_t *c = ctx;
    return c->mqtt != NULL && posix_mqtt_up(c->mqtt);
}

static int32_t h_mqtt_publish(void *ctx, const char *topic, const uint8_t *payload,
                              size_t len, uint8_t qos, bool retain)
{
    posix_ctx_t *c = ctx;
    return c->mqtt ? posix_mqtt_publish(c->mqtt, topic, payload, len, qos, retain) : -1;
}

static bool h_mqtt_subscribe(void *ctx, const char *topic, uint8_t qos)
{
    posix_ctx_t *c = ctx;
    return c->mqtt != NULL && posix_mqtt_subscribe(c->mqtt, topic, qos);
}

static bool h_serial_write(void *ctx, const uint8_t *data, size_t len)
{
    posix_ctx_t *c = ctx;
    return c->serial_fd >= 0 && posix_serial_write(c->serial_fd, data, len);
}

/* Keys become file names: keep them to a safe alphabet. */
static bool kv_path(const posix_ctx_t *c, const char *key, const char *suffix, char *out,
                    size_t cap)
{
    if (key[0] == '\0' || strspn(key, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(key)) {
        return false;
    }
    int n = snprintf(out, cap, "%s/%s%s", c->opts->state_dir, key, suffix);
    return n > 0 && (size_t)n < cap;
}

static edge_err_t h_kv_get(void *ctx, const char *key, uint32_t *value)
{
    char path[1024];
    char buf[32];
    if (!kv_path(ctx, key, "", path, sizeof path)) {
        return EDGE_ERR_HAL;
    }
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return errno == ENOENT ? EDGE_ERR_NOT_FOUND : EDGE_ERR_HAL;
    }
    bool ok = fgets(buf, sizeof buf, f) != NULL;
    fclose(f);
    char *end = NULL;
    errno = 0;
    unsigned long long v = ok ? strtoull(buf, &end, 10) : 0;
    if (!ok || errno != 0 || end == buf || (*end != '\n' && *end != '\0') || v > UINT32_MAX) {
        return EDGE_ERR_HAL; /* a garbled counter must not silently restart at 1 */
    }
    *value = (uint32_t)v;
    return EDGE_OK;
}

static bool fsync_path(const char *path, int flags)
{
    int fd = open(path, flags | O_CLOEXEC);
    if (fd < 0) {
        return false;
    }
    bool ok = fsync(fd) == 0;
    return close(fd) == 0 && ok;
}

/* tmp + fsync + rename + fsync(dir): the value is durable once we return OK,
 * and a crash leaves either the old or the new value, never a torn one. */
static edge_err_t h_kv_set(void *ctx, const char *key, uint32_t value)
{
    posix_ctx_t *c = ctx;
    char path[1024];
    char tmp[1040];
    char buf[16];
    if (!kv_path(c, key, "", path, sizeof path) || !kv_path(c, key, ".tmp", tmp, sizeof tmp)) {
        return EDGE_ERR_HAL;
    }
    int len = snprintf(buf, sizeof buf, "%" PRIu32 "\n", value);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        return EDGE_ERR_HAL;
    }
    bool ok = write(fd, buf, (size_t)len) == len && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path) != 0 || !fsync_path(c->opts->state_dir, O_RDONLY | O_DIRECTORY)) {
        unlink(tmp);
        return EDGE_ERR_HAL;
    }
    return EDGE_OK;
}

static uint32_t h_random(void *ctx)
{
    return posix_rand_u32(&((posix_ctx_t *)ctx)->jitter_rng);
}

static void h_log(void *ctx, edge_log_level_t level, const char *msg)
{
    posix_ctx_t *c = ctx;
    static const char *const names[] = {"error", "warn", "info", "debug"};
    if (level <= EDGE_LOG_WARN || c->opts->verbose) {
        fprintf(stderr, "edge-node: %s: %s\n", names[level], msg);
    }
}

/* "reboot" command: main.c stops cleanly and re-executes itself. */
static void h_reboot(void *ctx)
{
    ((posix_ctx_t *)ctx)->reboot_requested = true;
}

void hal_posix_init(edge_hal_t *hal, posix_ctx_t *ctx)
{
    *hal = (edge_hal_t){
        .ctx = ctx,
        .monotonic_ms = h_monotonic,
        .wall_clock_ms = h_wall,
        .read_sensor = h_read_sensor,
        .mqtt_connected = h_mqtt_connected,
        .mqtt_publish = h_mqtt_publish,
        .mqtt_subscribe = h_mqtt_subscribe,
        .serial_write = h_serial_write,
        .kv_get_u32 = h_kv_get,
        .kv_set_u32 = h_kv_set,
        .random_u32 = h_random,
        .log = h_log,
        .reboot = h_reboot,
    };
}

bool posix_mkdirs(const char *path)
{
    char buf[1024];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf) {
        errno = ENAMETOOLONG;
        return false;
    }
    memcpy(buf, path, n + 1);
    for (char *p = buf + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
                return false;
            }
            *p = '/';
        }
    }
    return mkdir(buf, 0755) == 0 || errno == EEXIST;
}
