#include "fake_hal.h"

#include <string.h>

static uint64_t f_mono(void *ctx) { return ((fake_hal_t *)ctx)->now; }

static bool f_wall(void *ctx, uint64_t *ms)
{
    fake_hal_t *f = ctx;
    *ms = f->now + f->wall_offset;
    return f->wall_synced;
}

static bool f_read(void *ctx, uint8_t i, float *v)
{
    fake_hal_t *f = ctx;
    *v = f->value[i];
    return !f->sensor_fails[i];
}

static bool f_connected(void *ctx) { return ((fake_hal_t *)ctx)->connected; }

static int32_t f_publish(void *ctx, const char *topic, const uint8_t *p, size_t len,
                         uint8_t qos, bool retain)
{
    fake_hal_t *f = ctx;
    if (f->publish_fails || !f->connected || f->n_pubs >= FAKE_MAX_PUBS ||
        len > FAKE_PAYLOAD_MAX || strlen(topic) >= sizeof f->pubs[0].topic) {
        return -1;
    }
    fake_pub_t *pub = &f->pubs[f->n_pubs++];
    strcpy(pub->topic, topic);
    memcpy(pub->payload, p, len);
    pub->len = len;
    pub->qos = qos;
    pub->retain = retain;
    pub->id = f->next_msg_id++;
    return pub->id;
}

static bool f_subscribe(void *ctx, const char *topic, uint8_t qos)
{
    fake_hal_t *f = ctx;
    (void)qos;
    if (strlen(topic) >= sizeof f->subscribed) {
        return false;
    }
    strcpy(f->subscribed, topic);
    return true;
}

static bool f_serial_write(void *ctx, const uint8_t *data, size_t len)
{
    fake_hal_t *f = ctx;
    if (f->serial_fails || FAKE_SERIAL_MAX - f->serial_len < len) {
        return false;
    }
    memcpy(f->serial + f->serial_len, data, len);
    f->serial_len += len;
    return true;
}

static edge_err_t f_kv_get(void *ctx, const char *key, uint32_t *v)
{
    fake_hal_t *f = ctx;
    if (f->kv_get_fails || strcmp(key, "boot") != 0) {
        return EDGE_ERR_HAL;
    }
    if (!f->has_boot) {
        return EDGE_ERR_NOT_FOUND;
    }
    *v = f->boot;
    return EDGE_OK;
}

static edge_err_t f_kv_set(void *ctx, const char *key, uint32_t v)
{
    fake_hal_t *f = ctx;
    if (f->kv_set_fails || strcmp(key, "boot") != 0) {
        return EDGE_ERR_HAL;
    }
    f->has_boot = true;
    f->boot = v;
    f->kv_sets++;
    return EDGE_OK;
}

static uint32_t f_random(void *ctx) { (void)ctx; return 12345u; }
static int32_t f_rssi(void *ctx) { (void)ctx; return -61; }
static uint32_t f_heap(void *ctx) { (void)ctx; return 182344u; }
static void f_reboot(void *ctx) { ((fake_hal_t *)ctx)->reboots++; }

void fake_hal_init(fake_hal_t *f, edge_hal_t *hal)
{
    memset(f, 0, sizeof *f);
    f->next_msg_id = 1;
    *hal = (edge_hal_t){
        .ctx = f, .monotonic_ms = f_mono, .wall_clock_ms = f_wall,
        .read_sensor = f_read, .mqtt_connected = f_connected,
        .mqtt_publish = f_publish, .mqtt_subscribe = f_subscribe,
        .serial_write = f_serial_write, .kv_get_u32 = f_kv_get,
        .kv_set_u32 = f_kv_set, .random_u32 = f_random, .log = NULL,
        .wifi_rssi = f_rssi, .free_heap = f_heap, .reboot = f_reboot,
    };
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

size_t fake_count_pubs(const fake_hal_t *f, const char *suffix)
{
    size_t n = 0;
    for (size_t i = 0; i < f->n_pubs; i++) {
        n += ends_with(f->pubs[i].topic, suffix);
    }
    return n;
}

const fake_pub_t *fake_nth_pub(const fake_hal_t *f, const char *suffix, size_t nth)
{
    for (size_t i = 0; i < f->n_pubs; i++) {
        if (ends_with(f->pubs[i].topic, suffix) && nth-- == 0) {
            return &f->pubs[i];
        }
    }
    return NULL;
}

void fake_clear_pubs(fake_hal_t *f)
{
    f->n_pubs = 0;
}
