#include "edge_node.h"

#include <string.h>

#include "edge_batch.h"
#include "edge_status.h"

#define DEFAULT_TOPIC_PREFIX "factory/floor1"
#define BOOT_KEY "boot"
#define COMMIT_RETRY_MS 1000u
#define STATUS_RETRY_MS 1000u
#define REBOOT_DELAY_MS 1000u /* lets the confirming status go out first */

static void log_msg(const edge_node_t *n, edge_log_level_t level, const char *msg)
{
    if (n->hal->log) {
        n->hal->log(n->hal->ctx, level, msg);
    }
}

static uint32_t random_u32(const edge_node_t *n)
{
    return n->hal->random_u32 ? n->hal->random_u32(n->hal->ctx) : 0x9e3779b9u;
}

static uint32_t or_default(uint32_t v, uint32_t dflt)
{
    return v ? v : dflt;
}

static bool config_valid(const edge_node_config_t *c)
{
    if (!edge_valid_device_id(c->device_id) || !edge_valid_firmware(c->firmware) ||
        c->sensor_names == NULL || c->sensor_count < 1 ||
        c->sensor_count > EDGE_SENSORS_MAX ||
        c->interval_ms < EDGE_INTERVAL_MIN_MS || c->interval_ms > EDGE_INTERVAL_MAX_MS ||
        c->batch_size < EDGE_BATCH_SIZE_MIN || c->batch_size > EDGE_BATCH_SIZE_MAX ||
        c->transport > EDGE_TRANSPORT_SERIAL) {
        return false;
    }
    if (c->transport == EDGE_TRANSPORT_MQTT &&
        (!edge_valid_topic_prefix(c->topic_prefix) ||
         strlen(c->topic_prefix) > EDGE_TOPIC_PREFIX_MAX)) {
        return false;
    }
    for (uint8_t i = 0; i < c->sensor_count; i++) {
        if (!edge_valid_sensor_name(c->sensor_names[i])) {
            return false;
        }
    }
    return true;
}

/* Boot counter (PROTOCOL.md 7): read, +1, commit. A failed commit is
 * retried with the same value, so a flaky flash never skips or repeats. */
static bool commit_boot(edge_node_t *n)
{
    if (!n->boot_read) {
        uint32_t prev = 0;
        edge_err_t err = n->hal->kv_get_u32(n->hal->ctx, BOOT_KEY, &prev);
        if (err == EDGE_ERR_NOT_FOUND) {
            prev = 0;
        } else if (err != EDGE_OK) {
            return false;
        }
        n->boot = prev + 1;
        n->boot_read = true;
    }
    if (n->hal->kv_set_u32(n->hal->ctx, BOOT_KEY, n->boot) != EDGE_OK) {
        return false;
    }
    n->boot_committed = true;
    return true;
}

edge_err_t edge_node_init(edge_node_t *n, const edge_node_config_t *cfg,
                          const edge_hal_t *hal)
{
    memset(n, 0, sizeof *n);
    if (cfg == NULL || hal == NULL || hal->monotonic_ms == NULL ||
        hal->kv_get_u32 == NULL || hal->kv_set_u32 == NULL) {
        return EDGE_ERR_BAD_CONFIG;
    }
    n->hal = hal;
    n->cfg = *cfg;
    edge_node_config_t *c = &n->cfg;
    if (c->topic_prefix == NULL) {
        c->topic_prefix = DEFAULT_TOPIC_PREFIX;
    }
    c->interval_ms = or_default(c->interval_ms, EDGE_DEFAULT_INTERVAL_MS);
    c->batch_size = or_default(c->batch_size, EDGE_DEFAULT_BATCH_SIZE);
    c->batch_max_age_ms = or_default(c->batch_max_age_ms, EDGE_DEFAULT_BATCH_MAX_AGE_MS);
    c->ack_timeout_ms = or_default(c->ack_timeout_ms, EDGE_DEFAULT_ACK_TIMEOUT_MS);
    c->mqtt_ack_timeout_ms = or_default(c->mqtt_ack_timeout_ms, EDGE_DEFAULT_MQTT_ACK_TIMEOUT_MS);
    c->status_period_ms = or_default(c->status_period_ms, EDGE_DEFAULT_STATUS_PERIOD_MS);
    if (!config_valid(c)) {
        return EDGE_ERR_BAD_CONFIG;
    }
    uint64_t now = hal->monotonic_ms(hal->ctx);
    n->boot_ms = now;
    n->now_ms = now;
    edge_backoff_init(&n->backoff, EDGE_BACKOFF_MIN_MS, EDGE_BACKOFF_MAX_MS);
    edge_sched_init(&n->sched, c->interval_ms, now);
    edge_batcher_init(&n->batcher, c->batch_size, c->batch_max_age_ms);
    edge_outbox_init(&n->outbox);
    edge_deframer_init(&n->deframer, n->rx, sizeof n->rx);
    n->connected = (c->transport == EDGE_TRANSPORT_SERIAL);
    n->status_due = n->connected; /* serial: announce at start; MQTT: on connect */
    n->next_status_ms = now + c->status_period_ms;

    if (!commit_boot(n)) {
        log_msg(n, EDGE_LOG_ERROR, "boot counter not committed: telemetry held back");
        n->commit_retry_ms = now + COMMIT_RETRY_MS;
        return EDGE_ERR_HAL;
    }
    return EDGE_OK;
}

/* ---- batches ---- */

static void close_batch(edge_node_t *n)
{
    edge_batcher_t *b = &n->batcher;
    if (b->count == 0) {
        return;
    }
    uint32_t dropped_before = n->outbox.dropped;
    (void)edge_outbox_push(&n->outbox, n->next_seq++, b->time_ms, b->unsynced,
                           b->sensor, b->offset, b->value, b->count);
    if (n->outbox.dropped != dropped_before) {
        log_msg(n, EDGE_LOG_WARN, "outbox full: dropped oldest batch");
    }
    edge_batcher_clear(b);
}

static void add_reading(edge_node_t *n, uint64_t now, uint8_t sensor, float value)
{
    uint64_t base = now - n->boot_ms;
    bool unsynced = true;
    if (n->batcher.count == 0 && n->hal->wall_clock_ms) {
        uint64_t wall;
        if (n->hal->wall_clock_ms(n->hal->ctx, &wall)) {
            base = wall;
            unsynced = false;
        }
    }
    if (edge_batcher_add(&n->batcher, now, base, unsynced, sensor, value)) {
        close_batch(n);
    }
}

static void sample(edge_node_t *n, uint64_t now)
{
    if (!edge_sched_due(&n->sched, now) || n->hal->read_sensor == NULL) {
        return;
    }
    for (uint8_t i = 0; i < n->cfg.sensor_count; i++) {
        float v;
        if (n->hal->read_sensor(n->hal->ctx, i, &v) && edge_valid_float(v)) {
            add_reading(n, now, i, v);
        }
    }
}

/* ---- sending ---- */

typedef struct {
    const edge_hal_t *hal;
    bool ok;
} serial_sink_t;

static void serial_sink(void *ctx, const uint8_t *data, size_t len)
{
    serial_sink_t *s = ctx;
    if (s->ok) {
        s->ok = s->hal->serial_write && s->hal->serial_write(s->hal->ctx, data, len);
    }
}

/* Sends the payload already at tx + header on the configured transport.
 * Returns the MQTT message id (serial: 0), or -1 on failure. */
static int32_t transmit(edge_node_t *n, edge_topic_kind_t kind, uint8_t frame_type,
                        uint32_t seq, size_t len, bool retain)
{
    uint8_t *payload = n->tx + EDGE_FRAME_HEADER_LEN;
    if (n->cfg.transport == EDGE_TRANSPORT_MQTT) {
        if (n->hal->mqtt_publish == NULL ||
            edge_node_topic(n, kind, n->topic, sizeof n->topic) != EDGE_OK) {
            return -1;
        }
        int32_t id = n->hal->mqtt_publish(n->hal->ctx, n->topic, payload, len, 1, retain);
        return id < 0 ? -1 : id;
    }
    size_t raw_len = edge_frame_seal(n->tx, frame_type, seq, len);
    serial_sink_t sink = {n->hal, true};
    edge_frame_write_raw(n->tx, raw_len, serial_sink, &sink);
    return sink.ok ? 0 : -1;
}

static edge_err_t encode_entry(edge_node_t *n, const edge_ob_entry_t *e, size_t *len)
{
    edge_batch_header_t h = {n->cfg.device_id, n->cfg.firmware, n->boot, e->seq,
                             e->time_ms, e->unsynced};
    edge_mp_writer_t w;
    edge_mp_writer_init(&w, n->tx + EDGE_FRAME_HEADER_LEN, EDGE_TX_PAYLOAD_MAX);
    edge_err_t err = edge_batch_begin(&w, &h, e->count);
    for (uint16_t k = 0; k < e->count && err == EDGE_OK; k++) {
        uint8_t sensor;
        uint32_t offset;
        float value;
        edge_outbox_reading(&n->outbox, e, k, &sensor, &offset, &value);
        err = edge_batch_add(&w, n->cfg.sensor_names[sensor], offset, value);
    }
    if (err == EDGE_OK) {
        err = edge_batch_finish(&w);
    }
    *len = w.len;
    return err;
}

static void retry_later(edge_node_t *n, uint64_t now)
{
    n->retry_at_ms = now + edge_backoff_next(&n->backoff, random_u32(n));
}

static uint32_t ack_timeout(const edge_node_t *n)
{
    return n->cfg.transport == EDGE_TRANSPORT_MQTT ? n->cfg.mqtt_ack_timeout_ms
                                                   : n->cfg.ack_timeout_ms;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

static uint16_t in_flight_count(const edge_node_t *n)
{
    uint16_t k = 0;
    for (uint16_t i = 0; i < n->outbox.len; i++) {
        k += n->outbox.entry[(n->outbox.head + i) % EDGE_OUTBOX_CAPACITY].state == EDGE_OB_IN_FLIGHT;
    }
    return k;
}

/* In-flight batches whose ack is overdue go back to pending. */
static void expire_in_flight(edge_node_t *n, uint64_t now)
{
    bool expired = false;
    for (uint16_t i = 0; i < n->outbox.len; i++) {
        edge_ob_entry_t *e = edge_outbox_at(&n->outbox, i);
        if (e->state == EDGE_OB_IN_FLIGHT &&
            (uint32_t)now - e->sent_ms >= ack_timeout(n)) {
            e->state = EDGE_OB_PENDING;
            e->msg_id = -1;
            n->stats.retransmits++;
            expired = true;
        }
    }
    if (expired) {
        retry_later(n, now);
    }
}

static void send_pending(edge_node_t *n, uint64_t now)
{
    if (!n->connected || !n->boot_committed || now < n->retry_at_ms) {
        return;
    }
    uint16_t in_flight = in_flight_count(n);
    for (uint16_t i = 0; i < n->outbox.len && in_flight < EDGE_INFLIGHT_MAX; i++) {
        edge_ob_entry_t *e = edge_outbox_at(&n->outbox, i);
        if (e->state != EDGE_OB_PENDING) {
            continue;
        }
        size_t len = 0;
        if (encode_entry(n, e, &len) != EDGE_OK) {
            /* cannot ever be sent: drop it rather than block the queue */
            log_msg(n, EDGE_LOG_ERROR, "batch does not encode: dropped");
            e->state = EDGE_OB_IN_FLIGHT;
            (void)edge_outbox_ack_seq(&n->outbox, e->seq);
            n->outbox.dropped++;
            i--; /* the entry may have been reclaimed: re-check this index */
            continue;
        }
        int32_t id = transmit(n, EDGE_TOPIC_TELEMETRY, EDGE_FRAME_TELEMETRY, e->seq, len, false);
        if (id < 0) {
            n->stats.publish_failures++;
            retry_later(n, now);
            return;
        }
        e->state = EDGE_OB_IN_FLIGHT;
        e->msg_id = id;
        e->sent_ms = (uint32_t)now;
        n->stats.sent++;
        in_flight++;
    }
}

static void send_status(edge_node_t *n, uint64_t now)
{
    edge_status_t s = {
        .device = n->cfg.device_id,
        .boot = n->boot,
        .uptime_s = (uint32_t)((now - n->boot_ms) / 1000u),
        .rssi = n->hal->wifi_rssi ? n->hal->wifi_rssi(n->hal->ctx) : 0,
        .heap = n->hal->free_heap ? n->hal->free_heap(n->hal->ctx) : 0,
        .drop = n->outbox.dropped,
        .interval_ms = n->sched.interval_ms,
        .batch_size = n->batcher.batch_size,
        .last_cmd = n->stats.last_cmd,
    };
    size_t len = 0;
    bool ok = edge_status_encode(&s, n->tx + EDGE_FRAME_HEADER_LEN, EDGE_TX_PAYLOAD_MAX,
                                 &len) == EDGE_OK &&
              transmit(n, EDGE_TOPIC_STATUS, EDGE_FRAME_STATUS, 0, len, true) >= 0;
    n->status_due = false;
    n->next_status_ms = now + (ok ? n->cfg.status_period_ms : STATUS_RETRY_MS);
}

static void service_transport(edge_node_t *n, uint64_t now)
{
    if (!n->connected) {
        return;
    }
    if (n->status_due || now >= n->next_status_ms) {
        send_status(n, now);
    }
    expire_in_flight(n, now);
    send_pending(n, now);
}

void edge_node_step(edge_node_t *n, uint64_t now)
{
    n->now_ms = now;
    if (!n->boot_committed && now >= n->commit_retry_ms && !commit_boot(n)) {
        n->commit_retry_ms = now + COMMIT_RETRY_MS;
    }
    if (n->reboot_at_ms != 0 && now >= n->reboot_at_ms) {
        n->reboot_at_ms = 0;
        if (n->hal->reboot) {
            n->hal->reboot(n->hal->ctx);
        }
    }
    sample(n, now);
    if (edge_batcher_expired(&n->batcher, now)) {
        close_batch(n);
    }
    service_transport(n, now);
}

/* Only work step() can do counts: a pending batch is due only while it could be
 * sent (connected, boot committed, a free slot in the window), else a loop that
 * sleeps until the answer would spin at 100 % until an ack arrives. */
uint64_t edge_node_next_due_ms(const edge_node_t *n)
{
    uint64_t due = n->sched.next_ms;
    if (n->batcher.count > 0) {
        due = min_u64(due, n->batcher.opened_ms + n->batcher.max_age_ms);
    }
    if (n->connected) {
        due = min_u64(due, n->status_due ? n->now_ms : n->next_status_ms);
        bool can_send = n->boot_committed && in_flight_count(n) < EDGE_INFLIGHT_MAX;
        for (uint16_t i = 0; i < n->outbox.len; i++) {
            const edge_ob_entry_t *e = &n->outbox.entry[(n->outbox.head + i) % EDGE_OUTBOX_CAPACITY];
            if (e->state == EDGE_OB_PENDING && can_send) {
                due = min_u64(due, n->retry_at_ms > n->now_ms ? n->retry_at_ms : n->now_ms);
            } else if (e->state == EDGE_OB_IN_FLIGHT) {
                uint32_t age = (uint32_t)n->now_ms - e->sent_ms;
                uint32_t left = age >= ack_timeout(n) ? 0 : ack_timeout(n) - age;
                due = min_u64(due, n->now_ms + left);
            }
        }
    }
    if (!n->boot_committed) {
        due = min_u64(due, n->commit_retry_ms);
    }
    if (n->reboot_at_ms != 0) {
        due = min_u64(due, n->reboot_at_ms);
    }
    return due;
}

/* ---- events ---- */

void edge_node_on_connected(edge_node_t *n)
{
    if (n->cfg.transport != EDGE_TRANSPORT_MQTT) {
        return;
    }
    n->connected = true;
    if (n->hal->mqtt_subscribe == NULL ||
        edge_node_topic(n, EDGE_TOPIC_CMD, n->topic, sizeof n->topic) != EDGE_OK ||
        !n->hal->mqtt_subscribe(n->hal->ctx, n->topic, 1)) {
        log_msg(n, EDGE_LOG_WARN, "cmd subscribe failed");
    }
    /* In-flight batches keep their msg ids: the client retransmits its own copy
     * after the reconnect, so sending them again here would double them. Their
     * PUBACK wait starts over with that retransmission. */
    for (uint16_t i = 0; i < n->outbox.len; i++) {
        edge_ob_entry_t *e = edge_outbox_at(&n->outbox, i);
        if (e->state == EDGE_OB_IN_FLIGHT) {
            e->sent_ms = (uint32_t)n->now_ms;
        }
    }
    edge_backoff_reset(&n->backoff);
    n->retry_at_ms = 0;
    n->status_due = true; /* birth */
    service_transport(n, n->now_ms);
}

void edge_node_on_disconnected(edge_node_t *n)
{
    if (n->cfg.transport != EDGE_TRANSPORT_MQTT) {
        return;
    }
    n->connected = false;
}

void edge_node_on_mqtt_deleted(edge_node_t *n, int32_t msg_id)
{
    for (uint16_t i = 0; i < n->outbox.len; i++) {
        edge_ob_entry_t *e = edge_outbox_at(&n->outbox, i);
        if (e->state == EDGE_OB_IN_FLIGHT && e->msg_id == msg_id) {
            e->state = EDGE_OB_PENDING; /* next send gets a new id */
            e->msg_id = -1;
            n->stats.retransmits++;
            return;
        }
    }
}

static void on_acked(edge_node_t *n)
{
    n->stats.acked++;
    edge_backoff_reset(&n->backoff);
    n->retry_at_ms = 0;
}

void edge_node_on_mqtt_puback(edge_node_t *n, int32_t msg_id)
{
    if (edge_outbox_ack_msg_id(&n->outbox, msg_id)) {
        on_acked(n);
    }
}

static void on_ack_frame(edge_node_t *n, const edge_frame_t *f)
{
    if (f->payload_len != 1) {
        return;
    }
    uint8_t code = f->payload[0];
    if (code == EDGE_ACK_STORED || code == EDGE_ACK_REJECTED) {
        if (edge_outbox_ack_seq(&n->outbox, f->seq)) {
            on_acked(n);
        }
    } else if (code == EDGE_ACK_BUSY) {
        for (uint16_t i = 0; i < n->outbox.len; i++) {
            edge_ob_entry_t *e = edge_outbox_at(&n->outbox, i);
            if (e->seq == f->seq && e->state == EDGE_OB_IN_FLIGHT) {
                e->state = EDGE_OB_PENDING; /* keep it, try again later */
            }
        }
        n->stats.busy_acks++;
        retry_later(n, n->now_ms);
    }
}

static void on_frame(void *ctx, const edge_frame_t *f)
{
    edge_node_t *n = ctx;
    if (f->type == EDGE_FRAME_ACK) {
        on_ack_frame(n, f);
    } else if (f->type == EDGE_FRAME_CMD) {
        (void)edge_node_on_command(n, f->payload, f->payload_len);
    }
    /* telemetry/status frames are not for a node: ignored */
}

void edge_node_on_serial_reopened(edge_node_t *n)
{
    if (n->cfg.transport != EDGE_TRANSPORT_SERIAL) {
        return;
    }
    edge_outbox_requeue_all(&n->outbox);
    edge_backoff_reset(&n->backoff);
    n->retry_at_ms = 0;
    n->status_due = true; /* tell the bridge which device is on this port */
}

bool edge_node_flush(edge_node_t *n)
{
    if (n->batcher.count == 0) {
        return false;
    }
    close_batch(n);
    service_transport(n, n->now_ms);
    return true;
}

void edge_node_on_serial_bytes(edge_node_t *n, const uint8_t *data, size_t len)
{
    edge_deframer_feed(&n->deframer, data, len, on_frame, n);
}

edge_err_t edge_node_on_command(edge_node_t *n, const uint8_t *payload, size_t len)
{
    edge_cmd_t cmd;
    edge_err_t err = edge_cmd_parse(payload, len, &cmd);
    if (err != EDGE_OK) {
        n->stats.cmd_rejected++;
        n->stats.last_cmd_error = err;
        log_msg(n, EDGE_LOG_WARN, "command rejected");
        return err;
    }
    if (cmd.id == n->stats.last_cmd) {
        n->status_due = true; /* QoS 1 redelivery: confirm again, apply once */
        return EDGE_OK;
    }
    uint64_t now = n->now_ms;
    switch (cmd.op) {
    case EDGE_OP_SET_INTERVAL:
        edge_sched_set_interval(&n->sched, cmd.arg, now);
        break;
    case EDGE_OP_SET_BATCH:
        edge_batcher_set_size(&n->batcher, cmd.arg);
        if (edge_batcher_full(&n->batcher)) {
            close_batch(n);
        }
        break;
    case EDGE_OP_REBOOT:
        n->reboot_at_ms = now + REBOOT_DELAY_MS;
        break;
    default: /* ping: the confirming status is the answer */
        break;
    }
    n->stats.last_cmd = cmd.id;
    n->stats.cmd_applied++;
    n->status_due = true;
    return EDGE_OK;
}

edge_err_t edge_node_topic(const edge_node_t *n, edge_topic_kind_t kind,
                           char *out, size_t cap)
{
    return edge_topic_build(out, cap, n->cfg.topic_prefix, n->cfg.device_id, kind);
}

edge_err_t edge_node_will(const edge_node_t *n, char *topic, size_t topic_cap,
                          uint8_t *payload, size_t payload_cap, size_t *payload_len)
{
    edge_err_t err = edge_node_topic(n, EDGE_TOPIC_STATUS, topic, topic_cap);
    if (err != EDGE_OK) {
        return err;
    }
    return edge_will_encode(n->cfg.device_id, n->boot, payload, payload_cap, payload_len);
}

void edge_node_stats(const edge_node_t *n, edge_node_stats_t *out)
{
    *out = n->stats;
    out->boot = n->boot;
    out->next_seq = n->next_seq;
    out->outbox_batches = edge_outbox_pending_count(&n->outbox);
    out->dropped = n->outbox.dropped;
    out->boot_committed = n->boot_committed;
    out->serial = n->deframer.stats;
}
