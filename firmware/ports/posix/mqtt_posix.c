/* MQTT transport: libmosquitto without its thread, so every callback runs
 * on the main loop's thread as edge_hal.h requires. Reconnects with a
 * capped, jittered backoff; the core replays its outbox on each connect. */
#include <mosquitto.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "posix_port.h"

#define RECONNECT_MIN_MS 250u
#define RECONNECT_MAX_MS 2000u  /* a local broker: come back quickly */
#define KEEPALIVE_S 10
#define SHUTDOWN_WAIT_MS 1000u

struct posix_mqtt {
    posix_ctx_t *ctx;
    struct mosquitto *mosq;
    bool up;                    /* CONNACK accepted, not lost since */
    uint64_t retry_at_ms;
    uint32_t backoff_ms;
    int32_t offline_mid;        /* shutdown status awaiting PUBACK */
    bool offline_acked;
};

static void lost(posix_mqtt_t *m, const char *why)
{
    if (m->up) {
        m->up = false;
        if (m->ctx->opts->verbose) {
            fprintf(stderr, "edge-node: info: mqtt disconnected (%s)\n", why);
        }
        edge_node_on_disconnected(m->ctx->node);
    }
    uint32_t jitter = posix_rand_u32(&m->ctx->jitter_rng) % (m->backoff_ms / 4u + 1u);
    m->retry_at_ms = posix_now_ms() + m->backoff_ms + jitter;
    m->backoff_ms = m->backoff_ms * 2u > RECONNECT_MAX_MS ? RECONNECT_MAX_MS : m->backoff_ms * 2u;
}

static void on_connect(struct mosquitto *mosq, void *obj, int rc)
{
    (void)mosq;
    posix_mqtt_t *m = obj;
    if (rc != 0) {
        fprintf(stderr, "edge-node: warn: broker refused connection: %s\n",
                mosquitto_connack_string(rc));
        lost(m, "refused");
        return;
    }
    m->up = true;
    m->backoff_ms = RECONNECT_MIN_MS;
    if (m->ctx->opts->verbose) {
        fprintf(stderr, "edge-node: info: mqtt connected\n");
    }
    edge_node_on_connected(m->ctx->node);
}

static void on_disconnect(struct mosquitto *mosq, void *obj, int rc)
{
    (void)mosq;
    (void)rc;
    lost(obj, "disconnect");
}

static void on_publish(struct mosquitto *mosq, void *obj, int mid)
{
    (void)mosq;
    posix_mqtt_t *m = obj;
    if (mid == m->offline_mid) {
        m->offline_acked = true;
    }
    posix_deliver_puback(m->ctx, mid);
}

static void on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *msg)
{
    (void)mosq;
    posix_mqtt_t *m = obj;
    /* only the cmd topic is subscribed */
    edge_err_t err = edge_node_on_command(m->ctx->node, msg->payload, (size_t)msg->payloadlen);
    if (m->ctx->opts->verbose) {
        fprintf(stderr, "edge-node: info: command on %s: %s\n", msg->topic, edge_err_name(err));
    }
}

posix_mqtt_t *posix_mqtt_new(posix_ctx_t *ctx)
{
    posix_mqtt_t *m = calloc(1, sizeof *m);
    if (m == NULL) {
        return NULL;
    }
    m->ctx = ctx;
    m->backoff_ms = RECONNECT_MIN_MS;
    m->offline_mid = -1;
    m->mosq = mosquitto_new(ctx->opts->device, true, m);
    char topic[EDGE_TOPIC_MAX];
    uint8_t will[128];
    size_t will_len = 0;
    if (m->mosq == NULL ||
        edge_node_will(ctx->node, topic, sizeof topic, will, sizeof will, &will_len) != EDGE_OK ||
        mosquitto_will_set(m->mosq, topic, (int)will_len, will, 1, true) != MOSQ_ERR_SUCCESS) {
        posix_mqtt_free(m);
        return NULL;
    }
    mosquitto_connect_callback_set(m->mosq, on_connect);
    mosquitto_disconnect_callback_set(m->mosq, on_disconnect);
    mosquitto_publish_callback_set(m->mosq, on_publish);
    mosquitto_message_callback_set(m->mosq, on_message);
    return m;
}

void posix_mqtt_free(posix_mqtt_t *m)
{
    if (m != NULL) {
        mosquitto_destroy(m->mosq);
        free(m);
    }
}

bool posix_mqtt_up(const posix_mqtt_t *m)
{
    return m->up;
}

int32_t posix_mqtt_publish(posix_mqtt_t *m, const char *topic, const uint8_t *payload,
                           size_t len, uint8_t qos, bool retain)
{
    int mid = 0;
    int rc = mosquitto_publish(m->mosq, &mid, topic, (int)len, payload, qos, retain);
    return rc == MOSQ_ERR_SUCCESS ? mid : -1;
}

bool posix_mqtt_subscribe(posix_mqtt_t *m, const char *topic, uint8_t qos)
{
    return mosquitto_subscribe(m->mosq, NULL, topic, qos) == MOSQ_ERR_SUCCESS;
}

uint64_t posix_mqtt_service(posix_mqtt_t *m, uint64_t now)
{
    if (mosquitto_socket(m->mosq) < 0) {
        if (now < m->retry_at_ms) {
            return m->retry_at_ms - now;
        }
        const posix_opts_t *o = m->ctx->opts;
        /* blocking TCP connect: a local broker answers or refuses at once */
        int rc = mosquitto_connect(m->mosq, o->broker_host, o->broker_port, KEEPALIVE_S);
        if (rc != MOSQ_ERR_SUCCESS) {
            if (o->verbose) {
                fprintf(stderr, "edge-node: info: connect %s:%d: %s\n", o->broker_host,
                        o->broker_port, mosquitto_strerror(rc));
            }
            lost(m, "connect failed");
            return m->retry_at_ms - now;
        }
    }
    mosquitto_loop_misc(m->mosq); /* keepalive pings, QoS retries */
    return 1000;
}

int posix_mqtt_fd(posix_mqtt_t *m, short *events)
{
    *events = POLLIN;
    if (mosquitto_want_write(m->mosq)) {
        *events |= POLLOUT;
    }
    return mosquitto_socket(m->mosq);
}

void posix_mqtt_io(posix_mqtt_t *m, short revents)
{
    int rc = MOSQ_ERR_SUCCESS;
    if (revents & (POLLIN | POLLERR | POLLHUP)) {
        rc = mosquitto_loop_read(m->mosq, 1);
    }
    if (rc == MOSQ_ERR_SUCCESS && mosquitto_socket(m->mosq) >= 0 && mosquitto_want_write(m->mosq)) {
        rc = mosquitto_loop_write(m->mosq, 1);
    }
    if (rc != MOSQ_ERR_SUCCESS || mosquitto_socket(m->mosq) < 0) {
        lost(m, mosquitto_strerror(rc)); /* no-op if the callback already ran */
    }
}

void posix_mqtt_shutdown(posix_mqtt_t *m)
{
    if (!m->up) {
        return;
    }
    char topic[EDGE_TOPIC_MAX];
    uint8_t status[128];
    size_t len = 0;
    int mid = -1;
    /* the will is dropped on a clean DISCONNECT: say "offline" ourselves */
    if (edge_node_will(m->ctx->node, topic, sizeof topic, status, sizeof status, &len) == EDGE_OK &&
        mosquitto_publish(m->mosq, &mid, topic, (int)len, status, 1, true) == MOSQ_ERR_SUCCESS) {
        m->offline_mid = mid;
        uint64_t deadline = posix_now_ms() + SHUTDOWN_WAIT_MS;
        while (!m->offline_acked && m->up && posix_now_ms() < deadline) {
            if (mosquitto_loop(m->mosq, 50, 1) != MOSQ_ERR_SUCCESS) {
                break;
            }
        }
    }
    m->up = false;
    mosquitto_disconnect(m->mosq);
    mosquitto_loop_write(m->mosq, 1);
}
