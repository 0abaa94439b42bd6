/* Compile-time sizes of the node core. Override with -D; every buffer is
 * static, sized from these, so RAM use is fixed at link time. */
#ifndef EDGE_CONFIG_H
#define EDGE_CONFIG_H

#include "edge_proto.h"

/* Batches kept until acknowledged; the oldest is dropped when full. */
#ifndef EDGE_OUTBOX_CAPACITY
#define EDGE_OUTBOX_CAPACITY 64u
#endif
/* Readings stored across all batches in the outbox (9 bytes each). */
#ifndef EDGE_OUTBOX_READINGS
#define EDGE_OUTBOX_READINGS (EDGE_OUTBOX_CAPACITY * 16u)
#endif
/* Sensors a node samples at each tick. */
#ifndef EDGE_SENSORS_MAX
#define EDGE_SENSORS_MAX 8u
#endif
/* Largest frame payload the node accepts over serial. It only receives
 * acks and commands, so this is far below the protocol's 4096; anything
 * larger is counted as oversized. */
#ifndef EDGE_RX_PAYLOAD_MAX
#define EDGE_RX_PAYLOAD_MAX 512u
#endif
/* Encoded batch buffer: enough for EDGE_BATCH_SIZE_MAX readings with
 * 32-byte sensor names (about 2950 bytes). */
#ifndef EDGE_TX_PAYLOAD_MAX
#define EDGE_TX_PAYLOAD_MAX 3072u
#endif
/* Batches published but not yet acknowledged, per transport. */
#ifndef EDGE_INFLIGHT_MAX
#define EDGE_INFLIGHT_MAX 4u
#endif
#ifndef EDGE_TOPIC_PREFIX_MAX
#define EDGE_TOPIC_PREFIX_MAX 128u
#endif
#define EDGE_TOPIC_MAX (EDGE_TOPIC_PREFIX_MAX + 1u + EDGE_DEVICE_ID_MAX + 11u)

/* Defaults for edge_node_config_t fields left 0. */
#define EDGE_DEFAULT_INTERVAL_MS       1000u
#define EDGE_DEFAULT_BATCH_SIZE        16u
#define EDGE_DEFAULT_BATCH_MAX_AGE_MS  30000u
#define EDGE_DEFAULT_ACK_TIMEOUT_MS    2000u
#define EDGE_DEFAULT_STATUS_PERIOD_MS  60000u
#define EDGE_DEFAULT_MQTT_ACK_TIMEOUT_MS 30000u
#define EDGE_BACKOFF_MIN_MS            500u
#define EDGE_BACKOFF_MAX_MS            60000u

#if EDGE_OUTBOX_READINGS > 65535u || EDGE_OUTBOX_CAPACITY > 65535u
#error "outbox indices are 16-bit"
#endif
#if EDGE_TX_PAYLOAD_MAX > EDGE_PAYLOAD_MAX
#error "EDGE_TX_PAYLOAD_MAX above the protocol limit"
#endif

#endif
