/* edge_node.h: the sensor node as one portable state machine.
 *
 * WHAT IT DOES
 *   samples the configured sensors every interval, closes batches at
 *   batch_size readings or batch_max_age_ms, keeps them in a RAM outbox
 *   until the transport acknowledges them, publishes status (birth on
 *   connect, every status_period_ms, after each command) and applies
 *   downlink commands. No heap; all state lives in edge_node_t.
 *
 * HOW A PORT DRIVES IT (single thread; see edge_hal.h for the HAL)
 *
 *   static edge_node_t node;                      // ~15 KB, keep it static
 *   edge_node_config_t cfg = { .device_id = "esp32-a1b2c3d4e5f6",
 *       .topic_prefix = "factory/floor1", .firmware = "1.0.0",
 *       .sensor_names = names, .sensor_count = 2,
 *       .transport = EDGE_TRANSPORT_MQTT };        // 0 fields: defaults
 *   edge_err_t err = edge_node_init(&node, &cfg, &hal);
 *     // EDGE_ERR_BAD_CONFIG: fix the config, the node is unusable.
 *     // EDGE_ERR_HAL: boot counter not committed; the node runs but holds
 *     //   telemetry back and retries the commit (PROTOCOL.md 7).
 *
 *   MQTT: before connecting, get the last will with edge_node_will() and
 *   register it (QoS 1, retained). Then, from the port's event loop:
 *     connected            -> edge_node_on_connected(&node)
 *                              (subscribes cmd, publishes birth, replays)
 *     disconnected         -> edge_node_on_disconnected(&node)
 *     PUBACK for msg id m  -> edge_node_on_mqtt_puback(&node, m)
 *     client dropped m     -> edge_node_on_mqtt_deleted(&node, m)
 *     message on cmd topic -> edge_node_on_command(&node, payload, len)
 *   Serial: every byte read -> edge_node_on_serial_bytes(&node, buf, n)
 *     (ack and cmd frames are handled inside).
 *   Always: edge_node_step(&node, hal.monotonic_ms(ctx)) when
 *     edge_node_next_due_ms() is reached or after any event above; sleep in
 *     between. next_due never answers "now" for work step() cannot do (a
 *     full in-flight window, offline, boot not committed), so a loop that
 *     sleeps until it never spins.
 *
 * GUARANTEES
 *   - (device, boot, seq) never repeats: boot is committed before any
 *     telemetry leaves; seq starts at 0 and grows by one per batch.
 *   - a batch leaves the outbox only on PUBACK / ack frame (0x00 stored or
 *     0x01 rejected) or when the full outbox drops its oldest (counted in
 *     status `drop`); busy (0x02) and timeouts retry with backoff.
 *   - batches are (re)sent oldest first. A batch in flight keeps its MQTT
 *     msg id across a reconnect (the client retransmits it); it is sent
 *     again under a new id only when the client drops it
 *     (edge_node_on_mqtt_deleted) or its PUBACK is overdue
 *     (mqtt_ack_timeout_ms), which also recovers a lost PUBACK event.
 *     Duplicates are possible; the bridge dedupes on message_id.
 *   - malformed commands and frames are counted, never fatal.
 */
#ifndef EDGE_NODE_H
#define EDGE_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "edge_backoff.h"
#include "edge_batcher.h"
#include "edge_cmd.h"
#include "edge_config.h"
#include "edge_err.h"
#include "edge_frame.h"
#include "edge_hal.h"
#include "edge_outbox.h"
#include "edge_sched.h"
#include "edge_topic.h"

typedef enum {
    EDGE_TRANSPORT_MQTT = 0,
    EDGE_TRANSPORT_SERIAL
} edge_transport_t;

typedef struct {
    const char *device_id;       /* 1..64 [A-Za-z0-9_-] */
    const char *topic_prefix;    /* MQTT only; "factory/floor1" if NULL */
    const char *firmware;        /* 1..32 bytes */
    const char *const *sensor_names; /* [a-z0-9_]{1,32}, index = HAL index */
    uint8_t sensor_count;        /* 1..EDGE_SENSORS_MAX */
    edge_transport_t transport;
    uint32_t interval_ms;        /* 0: 1000 */
    uint32_t batch_size;         /* readings; 0: 16 */
    uint32_t batch_max_age_ms;   /* 0: 30000 */
    uint32_t ack_timeout_ms;     /* serial retransmit; 0: 2000 */
    uint32_t mqtt_ack_timeout_ms;/* PUBACK wait before resend; 0: 30000 */
    uint32_t status_period_ms;   /* 0: 60000 */
} edge_node_config_t;

typedef struct {
    uint32_t boot;
    uint32_t next_seq;
    uint16_t outbox_batches;     /* not yet acknowledged */
    uint32_t dropped;            /* batches dropped by the full outbox */
    uint32_t sent;               /* telemetry publishes/frames, retries included */
    uint32_t acked;
    uint32_t retransmits;
    uint32_t publish_failures;
    uint32_t busy_acks;
    uint32_t cmd_applied;
    uint32_t cmd_rejected;
    uint32_t last_cmd;
    edge_err_t last_cmd_error;
    bool boot_committed;
    edge_deframer_stats_t serial;
} edge_node_stats_t;

typedef struct {
    edge_node_config_t cfg;
    const edge_hal_t *hal;
    uint64_t boot_ms;            /* monotonic time at init */
    uint64_t now_ms;             /* last step time */
    uint32_t boot;
    uint32_t next_seq;
    bool boot_read;              /* boot = stored + 1 is known */
    bool boot_committed;
    uint64_t commit_retry_ms;
    bool connected;              /* MQTT session up (serial: always) */
    bool status_due;
    uint64_t next_status_ms;
    uint64_t retry_at_ms;        /* telemetry sends wait until then */
    uint64_t reboot_at_ms;       /* 0: none pending */
    edge_backoff_t backoff;
    edge_sched_t sched;
    edge_batcher_t batcher;
    edge_outbox_t outbox;
    edge_deframer_t deframer;
    edge_node_stats_t stats;
    char topic[EDGE_TOPIC_MAX];
    uint8_t rx[EDGE_RX_PAYLOAD_MAX + EDGE_FRAME_OVERHEAD];
    uint8_t tx[EDGE_TX_PAYLOAD_MAX + EDGE_FRAME_OVERHEAD];
} edge_node_t;

edge_err_t edge_node_init(edge_node_t *node, const edge_node_config_t *cfg,
                          const edge_hal_t *hal);
/* Does everything that is due at now_ms (monotonic): sampling, closing
 * batches, sending, retransmits, periodic status, boot-commit retries. */
void edge_node_step(edge_node_t *node, uint64_t now_ms);
/* Monotonic time of the next thing step() has to do. */
uint64_t edge_node_next_due_ms(const edge_node_t *node);

void edge_node_on_connected(edge_node_t *node);
void edge_node_on_disconnected(edge_node_t *node);
void edge_node_on_mqtt_puback(edge_node_t *node, int32_t msg_id);
/* The MQTT client gave up on msg id m (esp-mqtt: MQTT_EVENT_DELETED, its
 * outbox expiry): that batch is sent again, under a new id. */
void edge_node_on_mqtt_deleted(edge_node_t *node, int32_t msg_id);
void edge_node_on_serial_bytes(edge_node_t *node, const uint8_t *data, size_t len);
/* Serial: the port was (re)opened, e.g. a USB adapter plugged back in. Frames in
 * flight went nowhere: they are resent at once, without the backoff that built
 * up while nobody answered. */
void edge_node_on_serial_reopened(edge_node_t *node);
/* Closes the open batch now (e.g. a button), instead of at N readings or T ms.
 * Returns false when there was nothing to close. */
bool edge_node_flush(edge_node_t *node);
/* A command payload (MQTT cmd topic). Returns the parse/apply result. */
edge_err_t edge_node_on_command(edge_node_t *node, const uint8_t *payload, size_t len);

/* Last will topic and payload, for the MQTT connect options. */
edge_err_t edge_node_will(const edge_node_t *node, char *topic, size_t topic_cap,
                          uint8_t *payload, size_t payload_cap, size_t *payload_len);
/* Topic of a kind for this node (e.g. to subscribe by hand). */
edge_err_t edge_node_topic(const edge_node_t *node, edge_topic_kind_t kind,
                           char *out, size_t cap);

void edge_node_stats(const edge_node_t *node, edge_node_stats_t *out);

#endif
