/* The node state machine against the fake HAL: boot counter, batching,
 * MQTT publish/PUBACK/replay, serial ack/busy/timeout, commands. */
#include <string.h>

#include "decode_check.h"
#include "fake_hal.h"
#include "harness.h"
#include "suites.h"

#include "edge_cmd.h"
#include "edge_frame.h"
#include "edge_node.h"
#include "edge_status.h"

static fake_hal_t fake;
static edge_hal_t hal;
static edge_node_t node;
static decoded_batch_t batch;
static const char *const sensors[] = {"temperature", "humidity"};

static edge_node_config_t base_config(edge_transport_t transport)
{
    return (edge_node_config_t){
        .device_id = "node-1", .topic_prefix = "factory/floor1", .firmware = "1.0.0",
        .sensor_names = sensors, .sensor_count = 2, .transport = transport,
        .interval_ms = 1000, .batch_size = 4,
    };
}

static void start(edge_transport_t transport)
{
    fake_hal_init(&fake, &hal);
    fake.now = 5000;
    fake.value[0] = 21.5f;
    fake.value[1] = 40.25f;
    fake.has_boot = true;
    fake.boot = 41;
    edge_node_config_t cfg = base_config(transport);
    CHECK_EQ(edge_node_init(&node, &cfg, &hal), EDGE_OK);
}

/* Advances time in 100 ms steps up to `until`. */
static void run_until(uint64_t until)
{
    while (fake.now < until) {
        fake.now += 100;
        edge_node_step(&node, fake.now);
    }
}

static void connect(void)
{
    fake.connected = true;
    edge_node_on_connected(&node);
}

static void node_commits_boot_counter(void)
{
    start(EDGE_TRANSPORT_MQTT);
    CHECK_EQ(node.boot, 42);
    CHECK_EQ(fake.boot, 42);
    CHECK_EQ(fake.kv_sets, 1);
    /* fresh device: no counter yet -> boot 1 */
    fake_hal_init(&fake, &hal);
    edge_node_config_t cfg = base_config(EDGE_TRANSPORT_MQTT);
    CHECK_EQ(edge_node_init(&node, &cfg, &hal), EDGE_OK);
    CHECK_EQ(node.boot, 1);
}

static void node_holds_telemetry_until_boot_committed(void)
{
    fake_hal_init(&fake, &hal);
    fake.has_boot = true;
    fake.boot = 7;
    fake.kv_set_fails = true;
    edge_node_config_t cfg = base_config(EDGE_TRANSPORT_MQTT);
    CHECK_EQ(edge_node_init(&node, &cfg, &hal), EDGE_ERR_HAL);
    connect();
    run_until(10000);
    CHECK_EQ(fake_count_pubs(&fake, "/telemetry"), 0);
    CHECK(node.outbox.len > 0); /* sampled and kept */
    fake.kv_set_fails = false;
    run_until(12000);
    CHECK(node.boot_committed);
    CHECK_EQ(fake.boot, 8); /* retried with the same value, not 9 */
    CHECK(fake_count_pubs(&fake, "/telemetry") > 0);
    const fake_pub_t *p = fake_nth_pub(&fake, "/telemetry", 0);
    CHECK(p && th_streq(batch_check(p->payload, p->len, &batch), "ok"));
    CHECK_EQ(batch.b, 8);
    CHECK_EQ(batch.s, 0);
}

static void node_rejects_bad_config(void)
{
    fake_hal_init(&fake, &hal);
    edge_node_config_t cfg = base_config(EDGE_TRANSPORT_MQTT);
    cfg.device_id = "bad/id";
    CHECK_EQ(edge_node_init(&node, &cfg, &hal), EDGE_ERR_BAD_CONFIG);
    cfg = base_config(EDGE_TRANSPORT_MQTT);
    cfg.topic_prefix = "a/+";
    CHECK_EQ(edge_node_init(&node, &cfg, &hal), EDGE_ERR_BAD_CONFIG);
    cfg = base_config(EDGE_TRANSPORT_MQTT);
    cfg.sensor_count = 0;
    CHECK_EQ(edge_node_init(&node, &cfg, &hal), EDGE_ERR_BAD_CONFIG);
    cfg = base_config(EDGE_TRANSPORT_MQTT);
    cfg.batch_size = 65;
    CHECK_EQ(edge_node_init(&node, &cfg, &hal), EDGE_ERR_BAD_CONFIG);
    hal.kv_set_u32 = NULL;
    cfg = base_config(EDGE_TRANSPORT_MQTT);
    CHECK_EQ(edge_node_init(&node, &cfg, &hal), EDGE_ERR_BAD_CONFIG);
}

static void node_mqtt_birth_batches_and_puback(void)
{
    start(EDGE_TRANSPORT_MQTT);
    connect();
    CHECK(th_streq(fake.subscribed, "factory/floor1/node-1/cmd"));
    const fake_pub_t *birth = fake_nth_pub(&fake, "/status", 0);
    CHECK(birth != NULL);
    if (birth) {
        CHECK(th_streq(birth->topic, "factory/floor1/node-1/status"));
        CHECK(birth->retain);
        CHECK_EQ(birth->qos, 1);
        int64_t v = 0;
        CHECK(status_field(birth->payload, birth->len, "b", &v) && v == 42);
        CHECK(status_field(birth->payload, birth->len, "bs", &v) && v == 4);
        CHECK(status_field(birth->payload, birth->len, "rssi", &v) && v == -61);
    }
    /* t=5000 first tick (2 readings), t=6000 second -> 4 readings: batch 0 */
    edge_node_step(&node, fake.now);
    run_until(6000);
    CHECK_EQ(fake_count_pubs(&fake, "/telemetry"), 1);
    const fake_pub_t *p = fake_nth_pub(&fake, "/telemetry", 0);
    CHECK(p && !p->retain && p->qos == 1);
    CHECK(p && th_streq(batch_check(p->payload, p->len, &batch), "ok"));
    CHECK(th_streq(batch.d, "node-1"));
    CHECK_EQ(batch.b, 42);
    CHECK_EQ(batch.s, 0);
    CHECK(batch.u);
    CHECK_EQ(batch.t, 0); /* ms since boot of the first reading */
    CHECK_EQ(batch.r_count, 4);
    CHECK(th_streq(batch.sensor[1], "humidity"));
    CHECK_EQ(batch.offset[2], 1000);
    CHECK_EQ(node.outbox.len, 1);
    edge_node_on_mqtt_puback(&node, p ? p->id : 0);
    CHECK_EQ(node.outbox.len, 0);
    edge_node_stats_t st;
    edge_node_stats(&node, &st);
    CHECK_EQ(st.acked, 1);
}

static void node_synced_clock_sets_epoch_time(void)
{
    start(EDGE_TRANSPORT_MQTT);
    fake.wall_synced = true;
    fake.wall_offset = 1700000000000ull;
    connect();
    edge_node_step(&node, fake.now);
    run_until(6000);
    const fake_pub_t *p = fake_nth_pub(&fake, "/telemetry", 0);
    CHECK(p && th_streq(batch_check(p->payload, p->len, &batch), "ok"));
    CHECK(!batch.u);
    CHECK_EQ(batch.t, 1700000005000ull);
}

static void node_replays_in_order_after_reconnect(void)
{
    start(EDGE_TRANSPORT_MQTT);
    edge_node_step(&node, fake.now);
    run_until(14000); /* offline: 5 batches wait */
    CHECK_EQ(node.outbox.len, 5);
    CHECK_EQ(fake.n_pubs, 0);
    connect();
    CHECK_EQ(fake_count_pubs(&fake, "/telemetry"), EDGE_INFLIGHT_MAX);
    for (uint32_t seq = 0; seq < 5; seq++) {
        const fake_pub_t *p = fake_nth_pub(&fake, "/telemetry", seq);
        if (p == NULL) {
            /* window full: ack the oldest in flight to make room */
            edge_node_on_mqtt_puback(&node, fake_nth_pub(&fake, "/telemetry", seq - EDGE_INFLIGHT_MAX)->id);
            edge_node_step(&node, fake.now);
            p = fake_nth_pub(&fake, "/telemetry", seq);
        }
        CHECK(p && th_streq(batch_check(p->payload, p->len, &batch), "ok"));
        CHECK_EQ(batch.s, seq);
    }
}

/* One copy per batch per outage: the MQTT client keeps its unacknowledged
 * copies and retransmits them after the reconnect under the same msg id, so
 * the core must not publish them again. */
static void node_keeps_msg_ids_across_reconnect(void)
{
    start(EDGE_TRANSPORT_MQTT);
    node.batcher.max_age_ms = 1000000;
    edge_node_step(&node, fake.now);
    run_until(14000); /* offline: 5 batches wait */
    connect();
    CHECK_EQ(fake_count_pubs(&fake, "/telemetry"), EDGE_INFLIGHT_MAX);
    int32_t ids[EDGE_INFLIGHT_MAX];
    for (uint32_t i = 0; i < EDGE_INFLIGHT_MAX; i++) {
        ids[i] = fake_nth_pub(&fake, "/telemetry", i)->id;
    }
    fake.sensor_fails[0] = fake.sensor_fails[1] = true; /* no new batches */
    fake.connected = false;
    edge_node_on_disconnected(&node);
    run_until(fake.now + 60000); /* an outage longer than the PUBACK timeout */
    fake_clear_pubs(&fake);
    connect();
    run_until(fake.now + 1000);
    CHECK_EQ(fake_count_pubs(&fake, "/telemetry"), 0);
    /* the client's retransmissions are acknowledged under the old ids */
    edge_node_on_mqtt_puback(&node, ids[0]);
    edge_node_step(&node, fake.now);
    CHECK_EQ(fake_count_pubs(&fake, "/telemetry"), 1);
    const fake_pub_t *p = fake_nth_pub(&fake, "/telemetry", 0);
    CHECK(p && th_streq(batch_check(p->payload, p->len, &batch), "ok"));
    CHECK_EQ(batch.s, 4); /* the one that never left */
    for (uint32_t i = 1; i < EDGE_INFLIGHT_MAX; i++) {
        edge_node_on_mqtt_puback(&node, ids[i]);
    }
    edge_node_on_mqtt_puback(&node, p ? p->id : 0);
    CHECK_EQ(node.outbox.len, 0);
    edge_node_stats_t st;
    edge_node_stats(&node, &st);
    CHECK_EQ(st.retransmits, 0);
    CHECK_EQ(st.acked, 5);
}

/* esp-mqtt drops an outbox entry after its expiry (MQTT_EVENT_DELETED): that
 * batch goes out again under a new id, and a late PUBACK of the old id is
 * ignored. */
static void node_resends_batch_the_client_deleted(void)
{
    start(EDGE_TRANSPORT_MQTT);
    node.batcher.max_age_ms = 1000000;
    connect();
    edge_node_step(&node, fake.now);
    run_until(6000);
    fake.sensor_fails[0] = fake.sensor_fails[1] = true;
    CHECK_EQ(fake_count_pubs(&fake, "/telemetry"), 1);
    int32_t old_id = fake_nth_pub(&fake, "/telemetry", 0)->id;
    edge_node_on_mqtt_deleted(&node, old_id + 100); /* unknown id: nothing */
    edge_node_step(&node, fake.now);
    CHECK_EQ(fake_count_pubs(&fake, "/telemetry"), 1);
    edge_node_on_mqtt_deleted(&node, old_id);
    edge_node_step(&node, fake.now);
    CHECK_EQ(fake_count_pubs(&fake, "/telemetry"), 2);
    const fake_pub_t *p = fake_nth_pub(&fake, "/telemetry", 1);
    CHECK(p && p->id != old_id);
    CHECK(p && th_streq(batch_check(p->payload, p->len, &batch), "ok"));
    CHECK_EQ(batch.s, 0);
    edge_node_on_mqtt_puback(&node, old_id);
    CHECK_EQ(node.outbox.len, 1);
    edge_node_on_mqtt_puback(&node, p ? p->id : 0);
    CHECK_EQ(node.outbox.len, 0);
}

/* The port may drop a PUBACK event (a full queue); the resend timer recovers
 * the batch, and the copy's PUBACK empties the outbox. */
static void node_recovers_lost_puback_event(void)
{
    start(EDGE_TRANSPORT_MQTT);
    node.batcher.max_age_ms = 1000000;
    connect();
    edge_node_step(&node, fake.now);
    run_until(6000);
    fake.sensor_fails[0] = fake.sensor_fails[1] = true;
    CHECK_EQ(fake_count_pubs(&fake, "/telemetry"), 1);
    /* the PUBACK for pub 0 arrives at the client but never reaches the core */
    run_until(6000 + EDGE_DEFAULT_MQTT_ACK_TIMEOUT_MS - 200);
    CHECK_EQ(fake_count_pubs(&fake, "/telemetry"), 1);
    run_until(6000 + EDGE_DEFAULT_MQTT_ACK_TIMEOUT_MS + 2 * EDGE_BACKOFF_MIN_MS);
    CHECK_EQ(fake_count_pubs(&fake, "/telemetry"), 2);
    const fake_pub_t *p = fake_nth_pub(&fake, "/telemetry", 1);
    CHECK(p && th_streq(batch_check(p->payload, p->len, &batch), "ok"));
    CHECK_EQ(batch.s, 0);
    edge_node_on_mqtt_puback(&node, p ? p->id : 0);
    CHECK_EQ(node.outbox.len, 0);
}

static void node_mqtt_resends_after_puback_timeout(void)
{
    start(EDGE_TRANSPORT_MQTT);
    connect();
    edge_node_step(&node, fake.now);
    run_until(6000);
    CHECK_EQ(fake_count_pubs(&fake, "/telemetry"), 1);
    node.batcher.max_age_ms = 1000000; /* keep new batches out of the count */
    fake.value[0] = 0.0f;
    fake.sensor_fails[0] = fake.sensor_fails[1] = true;
    run_until(6000 + EDGE_DEFAULT_MQTT_ACK_TIMEOUT_MS + 2 * EDGE_BACKOFF_MIN_MS);
    CHECK_EQ(fake_count_pubs(&fake, "/telemetry"), 2);
    const fake_pub_t *p = fake_nth_pub(&fake, "/telemetry", 1);
    CHECK(p && th_streq(batch_check(p->payload, p->len, &batch), "ok"));
    CHECK_EQ(batch.s, 0);
}

static void node_outbox_overflow_reported_in_status(void)
{
    start(EDGE_TRANSPORT_MQTT);
    edge_node_config_t cfg = base_config(EDGE_TRANSPORT_MQTT);
    cfg.batch_size = 2; /* one batch per tick */
    cfg.interval_ms = 100;
    CHECK_EQ(edge_node_init(&node, &cfg, &hal), EDGE_OK);
    run_until(fake.now + 100u * (EDGE_OUTBOX_CAPACITY + 5));
    edge_node_stats_t st;
    edge_node_stats(&node, &st);
    CHECK(st.dropped >= 5);
    CHECK_EQ(st.outbox_batches, EDGE_OUTBOX_CAPACITY);
    connect();
    const fake_pub_t *s = fake_nth_pub(&fake, "/status", 0);
    int64_t drop = -1;
    CHECK(s && status_field(s->payload, s->len, "drop", &drop));
    CHECK_EQ(drop, st.dropped);
    const fake_pub_t *p = fake_nth_pub(&fake, "/telemetry", 0);
    CHECK(p && th_streq(batch_check(p->payload, p->len, &batch), "ok"));
    CHECK_EQ(batch.s, st.dropped); /* the oldest kept batch goes first */
}

static edge_err_t send_cmd(uint32_t id, edge_op_t op, uint32_t arg)
{
    uint8_t buf[64];
    size_t n = 0;
    edge_cmd_t c = {id, op, arg};
    CHECK_EQ(edge_cmd_encode(&c, buf, sizeof buf, &n), EDGE_OK);
    return edge_node_on_command(&node, buf, n);
}

static int64_t last_status(const char *key)
{
    size_t n = fake_count_pubs(&fake, "/status");
    const fake_pub_t *s = n ? fake_nth_pub(&fake, "/status", n - 1) : NULL;
    int64_t v = -1;
    if (s == NULL || !status_field(s->payload, s->len, key, &v)) {
        return -1;
    }
    return v;
}

static void node_applies_and_confirms_commands(void)
{
    start(EDGE_TRANSPORT_MQTT);
    connect();
    CHECK_EQ(send_cmd(11, EDGE_OP_SET_INTERVAL, 5000), EDGE_OK);
    edge_node_step(&node, fake.now);
    CHECK_EQ(last_status("cmd"), 11);
    CHECK_EQ(last_status("iv"), 5000);
    CHECK_EQ(send_cmd(12, EDGE_OP_SET_BATCH, 8), EDGE_OK);
    edge_node_step(&node, fake.now);
    CHECK_EQ(last_status("cmd"), 12);
    CHECK_EQ(last_status("bs"), 8);
    size_t before = fake_count_pubs(&fake, "/status");
    CHECK_EQ(send_cmd(13, EDGE_OP_PING, 0), EDGE_OK);
    edge_node_step(&node, fake.now);
    CHECK_EQ(fake_count_pubs(&fake, "/status"), before + 1);
    CHECK_EQ(last_status("cmd"), 13);
    /* QoS 1 duplicate: confirmed again, applied once */
    CHECK_EQ(send_cmd(13, EDGE_OP_PING, 0), EDGE_OK);
    edge_node_step(&node, fake.now);
    edge_node_stats_t st;
    edge_node_stats(&node, &st);
    CHECK_EQ(st.cmd_applied, 3);
    CHECK_EQ(send_cmd(14, EDGE_OP_REBOOT, 0), EDGE_OK);
    edge_node_step(&node, fake.now);
    CHECK_EQ(last_status("cmd"), 14); /* confirmed before the reboot */
    CHECK_EQ(fake.reboots, 0);
    run_until(fake.now + 1000);
    CHECK_EQ(fake.reboots, 1);
}

static void node_ignores_malformed_commands(void)
{
    start(EDGE_TRANSPORT_MQTT);
    connect();
    static const uint8_t junk[][8] = {{0}, {0x84, 0xa1}, {0xdf, 0xff, 0xff, 0xff, 0xff},
                                      {0xc1}, {0x81, 0xa1, 0x76, 0x02}};
    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++) {
        CHECK(edge_node_on_command(&node, junk[i], i + 1) != EDGE_OK);
    }
    CHECK_EQ(send_cmd(5, EDGE_OP_SET_INTERVAL, 99), EDGE_ERR_BAD_ARG);
    CHECK_EQ(send_cmd(6, EDGE_OP_SET_BATCH, 65), EDGE_ERR_BAD_ARG);
    CHECK_EQ(edge_node_on_command(&node, NULL, 0), EDGE_ERR_MALFORMED);
    edge_node_stats_t st;
    edge_node_stats(&node, &st);
    CHECK_EQ(st.cmd_rejected, 8);
    CHECK_EQ(st.cmd_applied, 0);
    CHECK_EQ(st.last_cmd, 0);
    CHECK_EQ(node.sched.interval_ms, 1000);
}

static void node_will_matches_encoder(void)
{
    start(EDGE_TRANSPORT_MQTT);
    char topic[EDGE_TOPIC_MAX];
    uint8_t will[EDGE_WILL_MAX_LEN], want[EDGE_WILL_MAX_LEN];
    size_t n = 0, m = 0;
    CHECK_EQ(edge_node_will(&node, topic, sizeof topic, will, sizeof will, &n), EDGE_OK);
    CHECK(th_streq(topic, "factory/floor1/node-1/status"));
    CHECK_EQ(edge_will_encode("node-1", 42, want, sizeof want, &m), EDGE_OK);
    CHECK_MEM(will, n, want, m);
}

/* ---- serial ---- */

typedef struct {
    size_t count;
    uint8_t type[64];
    uint32_t seq[64];
} serial_seen_t;

static void note_frame(void *ctx, const edge_frame_t *f)
{
    serial_seen_t *s = ctx;
    if (s->count < 64) {
        s->type[s->count] = f->type;
        s->seq[s->count] = f->seq;
        s->count++;
    }
    if (f->type == EDGE_FRAME_TELEMETRY) {
        CHECK(th_streq(batch_check(f->payload, f->payload_len, &batch), "ok"));
        CHECK_EQ(batch.s, f->seq); /* one seq */
    }
}

/* Decodes everything the node wrote to the serial line, then clears it. */
static serial_seen_t read_serial(void)
{
    static uint8_t buf[EDGE_FRAME_RAW_MAX];
    serial_seen_t seen = {0};
    edge_deframer_t d;
    edge_deframer_init(&d, buf, sizeof buf);
    edge_deframer_feed(&d, fake.serial, fake.serial_len, note_frame, &seen);
    fake.serial_len = 0;
    return seen;
}

static size_t count_type(const serial_seen_t *s, uint8_t type)
{
    size_t n = 0;
    for (size_t i = 0; i < s->count; i++) {
        n += s->type[i] == type;
    }
    return n;
}

static void send_ack(uint32_t seq, uint8_t code)
{
    uint8_t wire[32];
    size_t n = 0;
    CHECK_EQ(edge_frame_encode(EDGE_FRAME_ACK, seq, &code, 1, wire, sizeof wire, &n), EDGE_OK);
    edge_node_on_serial_bytes(&node, wire, n);
}

static void node_serial_ack_removes_batch(void)
{
    start(EDGE_TRANSPORT_SERIAL);
    edge_node_step(&node, fake.now);
    run_until(6000);
    serial_seen_t s = read_serial();
    CHECK_EQ(count_type(&s, EDGE_FRAME_STATUS), 1);
    CHECK_EQ(count_type(&s, EDGE_FRAME_TELEMETRY), 1);
    CHECK_EQ(node.outbox.len, 1);
    send_ack(0, EDGE_ACK_STORED);
    CHECK_EQ(node.outbox.len, 0);
    /* rejected also removes: resending a malformed batch is pointless */
    run_until(8000);
    send_ack(1, EDGE_ACK_REJECTED);
    CHECK_EQ(node.outbox.len, 0);
    send_ack(1, EDGE_ACK_STORED); /* late duplicate: ignored */
    edge_node_stats_t st;
    edge_node_stats(&node, &st);
    CHECK_EQ(st.acked, 2);
}

static void node_serial_busy_and_timeout_retransmit(void)
{
    start(EDGE_TRANSPORT_SERIAL);
    node.batcher.max_age_ms = 1000000;
    edge_node_step(&node, fake.now);
    run_until(6000);
    serial_seen_t s = read_serial();
    CHECK_EQ(count_type(&s, EDGE_FRAME_TELEMETRY), 1);
    fake.sensor_fails[0] = fake.sensor_fails[1] = true; /* no new batches */
    send_ack(0, EDGE_ACK_BUSY);
    CHECK_EQ(node.outbox.len, 1); /* kept */
    edge_node_step(&node, fake.now);
    s = read_serial();
    CHECK_EQ(count_type(&s, EDGE_FRAME_TELEMETRY), 0); /* backing off */
    run_until(fake.now + EDGE_BACKOFF_MIN_MS);
    s = read_serial();
    CHECK_EQ(count_type(&s, EDGE_FRAME_TELEMETRY), 1);
    /* no ack at all: resent after the ack timeout (+ backoff) */
    run_until(fake.now + EDGE_DEFAULT_ACK_TIMEOUT_MS + 2 * EDGE_BACKOFF_MIN_MS);
    s = read_serial();
    CHECK_EQ(count_type(&s, EDGE_FRAME_TELEMETRY), 1);
    CHECK_EQ(s.seq[0], 0);
    send_ack(0, EDGE_ACK_STORED);
    CHECK_EQ(node.outbox.len, 0);
    edge_node_stats_t st;
    edge_node_stats(&node, &st);
    CHECK_EQ(st.busy_acks, 1);
    CHECK(st.retransmits >= 1);
}

static void node_serial_command_and_garbage(void)
{
    start(EDGE_TRANSPORT_SERIAL);
    edge_node_step(&node, fake.now);
    read_serial();
    static const uint8_t garbage[] = {0x05, 0x11, 0x00, 0xff, 0xfe, 0x00, 0x00, 0x01};
    edge_node_on_serial_bytes(&node, garbage, sizeof garbage);
    uint8_t payload[64], wire[128];
    size_t n = 0, w = 0;
    edge_cmd_t c = {77, EDGE_OP_SET_INTERVAL, 2000};
    CHECK_EQ(edge_cmd_encode(&c, payload, sizeof payload, &n), EDGE_OK);
    CHECK_EQ(edge_frame_encode(EDGE_FRAME_CMD, 77, payload, n, wire, sizeof wire, &w), EDGE_OK);
    static const uint8_t zero = 0;
    edge_node_on_serial_bytes(&node, &zero, 1); /* resync after the torn tail */
    for (size_t i = 0; i < w; i++) {
        edge_node_on_serial_bytes(&node, &wire[i], 1); /* byte by byte */
    }
    edge_node_step(&node, fake.now);
    serial_seen_t s = read_serial();
    CHECK_EQ(count_type(&s, EDGE_FRAME_STATUS), 1);
    CHECK_EQ(node.sched.interval_ms, 2000);
    edge_node_stats_t st;
    edge_node_stats(&node, &st);
    CHECK_EQ(st.last_cmd, 77);
    CHECK(st.serial.bad_cobs + st.serial.truncated + st.serial.bad_crc >= 2);
}

/* Unanswered frames push the retransmit backoff towards its 60 s cap; a reopened
 * port (replugged adapter) must not wait that out. */
static void node_serial_reopen_skips_backoff(void)
{
    start(EDGE_TRANSPORT_SERIAL);
    node.batcher.max_age_ms = 1000000;
    edge_node_step(&node, fake.now);
    run_until(6000);
    fake.sensor_fails[0] = fake.sensor_fails[1] = true; /* no new batches */
    run_until(fake.now + 120000);                      /* nobody answers */
    CHECK(node.retry_at_ms > fake.now + 4000);         /* the backoff built up */
    read_serial();
    edge_node_step(&node, fake.now);
    serial_seen_t s = read_serial();
    CHECK_EQ(count_type(&s, EDGE_FRAME_TELEMETRY), 0); /* still backing off */

    edge_node_on_serial_reopened(&node);
    edge_node_step(&node, fake.now);
    s = read_serial();
    CHECK_EQ(count_type(&s, EDGE_FRAME_TELEMETRY), 1);
    CHECK_EQ(count_type(&s, EDGE_FRAME_STATUS), 1);
    send_ack(0, EDGE_ACK_STORED);
    CHECK_EQ(node.outbox.len, 0);

    start(EDGE_TRANSPORT_MQTT); /* MQTT has its own connect/disconnect: a no-op there */
    uint64_t before = node.retry_at_ms;
    edge_node_on_serial_reopened(&node);
    CHECK_EQ(node.retry_at_ms, before);
}

static void node_flush_closes_open_batch(void)
{
    start(EDGE_TRANSPORT_MQTT);
    connect();
    node.batcher.max_age_ms = 1000000;
    edge_node_step(&node, fake.now);
    run_until(fake.now + 500); /* one sample tick: 2 readings of a 4-reading batch */
    CHECK_EQ(node.outbox.len, 0);
    CHECK(node.batcher.count > 0);
    CHECK(edge_node_flush(&node));
    CHECK_EQ(node.batcher.count, 0);
    CHECK_EQ(node.outbox.len, 1);
    CHECK(!edge_node_flush(&node)); /* nothing open */
    CHECK_EQ(node.outbox.len, 1);
}

/* ---- sleeping: next_due never asks for work step() cannot do ---- */

typedef struct {
    unsigned wakes;
    unsigned spins; /* next_due at or before the step just taken */
} drive_t;

/* Runs the node as a port's loop does: sleep until next_due, step. */
static drive_t drive_by_due(uint64_t until)
{
    drive_t d = {0, 0};
    while (fake.now < until && d.spins < 1000) {
        uint64_t due = edge_node_next_due_ms(&node);
        if (due <= fake.now) {
            d.spins++;
        } else {
            fake.now = due < until ? due : until;
        }
        edge_node_step(&node, fake.now);
        d.wakes++;
    }
    return d;
}

static uint16_t count_state(edge_ob_state_t state)
{
    uint16_t k = 0;
    for (uint16_t i = 0; i < node.outbox.len; i++) {
        k += edge_outbox_at(&node.outbox, i)->state == state;
    }
    return k;
}

/* 20 s at a 1 s sample interval: a sample, a batch or an ack deadline per
 * wake, never a spin. */
#define DRIVE_MS 20000u
#define DRIVE_MAX_WAKES 30u

static void node_sleeps_while_offline(void)
{
    start(EDGE_TRANSPORT_MQTT);
    edge_node_step(&node, fake.now);
    drive_t d = drive_by_due(fake.now + DRIVE_MS);
    CHECK_EQ(d.spins, 0);
    CHECK(d.wakes <= DRIVE_MAX_WAKES);
    CHECK(count_state(EDGE_OB_PENDING) >= 5); /* work waits for a connection */
    CHECK_EQ(edge_node_next_due_ms(&node), node.sched.next_ms);
}

static void node_sleeps_with_full_in_flight_window(void)
{
    start(EDGE_TRANSPORT_MQTT);
    connect();
    edge_node_step(&node, fake.now);
    run_until(fake.now + 10000); /* 5 batches: the window fills, one waits */
    CHECK_EQ(count_state(EDGE_OB_IN_FLIGHT), EDGE_INFLIGHT_MAX);
    CHECK(count_state(EDGE_OB_PENDING) >= 1);
    uint64_t due = edge_node_next_due_ms(&node);
    CHECK(due > fake.now);
    CHECK_EQ(due, node.sched.next_ms);
    /* sensors silent: the only deadline left is the oldest PUBACK timeout */
    fake.sensor_fails[0] = fake.sensor_fails[1] = true;
    node.sched.interval_ms = EDGE_INTERVAL_MAX_MS;
    node.sched.next_ms = fake.now + EDGE_INTERVAL_MAX_MS;
    node.next_status_ms = fake.now + EDGE_INTERVAL_MAX_MS;
    const edge_ob_entry_t *oldest = edge_outbox_at(&node.outbox, 0);
    CHECK_EQ(edge_node_next_due_ms(&node),
             (uint64_t)oldest->sent_ms + EDGE_DEFAULT_MQTT_ACK_TIMEOUT_MS);
}

/* Connected, but no PUBACK ever comes back (half-open link, stalled broker). */
static void node_sleeps_when_acks_stop(void)
{
    start(EDGE_TRANSPORT_MQTT);
    connect();
    edge_node_step(&node, fake.now);
    drive_t d = drive_by_due(fake.now + DRIVE_MS);
    CHECK_EQ(d.spins, 0);
    CHECK(d.wakes <= DRIVE_MAX_WAKES);
    CHECK_EQ(count_state(EDGE_OB_IN_FLIGHT), EDGE_INFLIGHT_MAX);
    CHECK(count_state(EDGE_OB_PENDING) >= 5);
    CHECK_EQ(fake_count_pubs(&fake, "/telemetry"), EDGE_INFLIGHT_MAX);
    /* past the PUBACK timeout: resends, with backoff, still no spin */
    d = drive_by_due(fake.now + 2 * EDGE_DEFAULT_MQTT_ACK_TIMEOUT_MS);
    CHECK_EQ(d.spins, 0);
    CHECK(d.wakes <= 2 * EDGE_DEFAULT_MQTT_ACK_TIMEOUT_MS / 1000u + DRIVE_MAX_WAKES);
    CHECK(fake_count_pubs(&fake, "/telemetry") > EDGE_INFLIGHT_MAX);
}

static void node_sleeps_while_serial_awaits_acks(void)
{
    start(EDGE_TRANSPORT_SERIAL);
    edge_node_step(&node, fake.now);
    drive_t d = drive_by_due(fake.now + DRIVE_MS);
    CHECK_EQ(d.spins, 0);
    /* samples, plus 2 s ack timeouts and their backoff retries */
    CHECK(d.wakes <= 2 * DRIVE_MAX_WAKES);
    CHECK(count_state(EDGE_OB_PENDING) + count_state(EDGE_OB_IN_FLIGHT) >= 5);
    edge_node_stats_t st;
    edge_node_stats(&node, &st);
    CHECK(st.retransmits >= 1);
}

static void node_sleeps_until_boot_commit_retry(void)
{
    fake_hal_init(&fake, &hal);
    fake.now = 5000;
    fake.kv_set_fails = true;
    edge_node_config_t cfg = base_config(EDGE_TRANSPORT_MQTT);
    CHECK_EQ(edge_node_init(&node, &cfg, &hal), EDGE_ERR_HAL);
    connect();
    edge_node_step(&node, fake.now);
    drive_t d = drive_by_due(fake.now + DRIVE_MS);
    CHECK_EQ(d.spins, 0);
    CHECK(d.wakes <= 2 * DRIVE_MAX_WAKES); /* samples and 1 s commit retries */
    CHECK(count_state(EDGE_OB_PENDING) >= 5);
    CHECK_EQ(fake_count_pubs(&fake, "/telemetry"), 0);
}

void suite_node(void)
{
    RUN("node", node_commits_boot_counter);
    RUN("node", node_holds_telemetry_until_boot_committed);
    RUN("node", node_rejects_bad_config);
    RUN("node", node_mqtt_birth_batches_and_puback);
    RUN("node", node_synced_clock_sets_epoch_time);
    RUN("node", node_replays_in_order_after_reconnect);
    RUN("node", node_mqtt_resends_after_puback_timeout);
    RUN("node", node_outbox_overflow_reported_in_status);
    RUN("node", node_applies_and_confirms_commands);
    RUN("node", node_ignores_malformed_commands);
    RUN("node", node_will_matches_encoder);
    RUN("node", node_serial_ack_removes_batch);
    RUN("node", node_serial_busy_and_timeout_retransmit);
    RUN("node", node_serial_command_and_garbage);
    RUN("node", node_serial_reopen_skips_backoff);
    RUN("node", node_flush_closes_open_batch);
    RUN("node", node_keeps_msg_ids_across_reconnect);
    RUN("node", node_resends_batch_the_client_deleted);
    RUN("node", node_recovers_lost_puback_event);
    RUN("node", node_sleeps_while_offline);
    RUN("node", node_sleeps_with_full_in_flight_window);
    RUN("node", node_sleeps_when_acks_stop);
    RUN("node", node_sleeps_while_serial_awaits_acks);
    RUN("node", node_sleeps_until_boot_commit_retry);
}
