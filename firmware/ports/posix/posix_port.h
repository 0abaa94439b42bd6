/* posix_port.h: the POSIX "virtual node" port of edge_core.
 *
 * One thread: main.c polls the signal pipe and the MQTT socket or the serial
 * fd, feeds events to the core and calls edge_node_step() when it is due.
 * The HAL (hal_posix.c) reads synthetic sensors, keeps the boot counter in
 * files and routes publishes/writes to the active transport. */
#ifndef POSIX_PORT_H
#define POSIX_PORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "edge_hal.h"
#include "edge_node.h"

typedef struct {
    const char *device;
    const char *broker_host;
    int broker_port;
    const char *prefix;
    uint32_t interval_ms;
    uint32_t batch;
    uint32_t batch_age_ms;
    uint32_t ack_timeout_ms;
    uint32_t mqtt_ack_timeout_ms;
    uint32_t status_period_ms;
    edge_transport_t transport;
    const char *serial_path;
    unsigned baud;
    const char *state_dir;
    uint64_t seed;
    uint32_t count;              /* 0: run until signalled */
    const char *sensors[EDGE_SENSORS_MAX];
    uint8_t sensor_count;
    const char *firmware;
    bool verbose;
    const char *readings_path;   /* NULL: synthetic sensors */
    uint64_t clock_start_ms;     /* 0: real clocks */
} posix_opts_t;

/* Exits with a usage message on bad flags. */
void posix_parse_args(int argc, char **argv, posix_opts_t *o);

/* Synthetic sensor state: one PRNG per node, advanced per reading. */
typedef struct {
    uint64_t rng;
    float level[EDGE_SENSORS_MAX];
    uint32_t tick[EDGE_SENSORS_MAX];
} posix_sensors_t;

/* Injected readings (--readings): rows of one value per sensor, replayed
 * in a loop; reading k of sensor i is row k mod rows, column i. */
typedef struct {
    float *value;                /* rows x cols */
    uint32_t rows;
    uint8_t cols;
} posix_readings_t;

/* Loads FILE; exits with a message when it is unreadable or malformed. */
void posix_readings_load(posix_readings_t *r, const char *path, uint8_t sensor_count);

typedef struct posix_mqtt posix_mqtt_t;

typedef struct {
    const posix_opts_t *opts;
    edge_node_t *node;
    posix_sensors_t sensors;
    uint64_t jitter_rng;
    posix_mqtt_t *mqtt;          /* NULL in serial mode */
    int serial_fd;               /* -1 when closed or in MQTT mode */
    bool serial_was_gone;        /* the last open failed: the next one is a replug */
    bool reboot_requested;
    posix_readings_t readings;   /* rows == 0: synthetic */
    /* --clock-start: both clocks read vclock, which starts there and steps
     * to exactly the core's next due time once that much real time passed
     * (so sample times do not depend on scheduling jitter). */
    bool virtual_clock;
    uint64_t vclock;
} posix_ctx_t;

void hal_posix_init(edge_hal_t *hal, posix_ctx_t *ctx);
uint64_t posix_now_ms(void);
/* mkdir -p; false with errno set on failure. */
bool posix_mkdirs(const char *path);

/* Synthetic readings: deterministic for a seed and a reading number. */
void posix_sensors_init(posix_sensors_t *s, uint64_t seed, const char *const *names,
                        uint8_t count);
float posix_sensor_next(posix_sensors_t *s, const char *name, uint8_t index);
uint32_t posix_rand_u32(uint64_t *state);

/* Ack reporting: snapshot in-flight batches, hand an event to the core,
 * print the ones it acknowledged (only with --verbose). */
void posix_deliver_puback(posix_ctx_t *ctx, int32_t mid);
void posix_deliver_serial(posix_ctx_t *ctx, const uint8_t *data, size_t len);

/* MQTT transport (libmosquitto, driven from our poll loop). */
posix_mqtt_t *posix_mqtt_new(posix_ctx_t *ctx);
void posix_mqtt_free(posix_mqtt_t *m);
bool posix_mqtt_up(const posix_mqtt_t *m);
int32_t posix_mqtt_publish(posix_mqtt_t *m, const char *topic, const uint8_t *payload,
                           size_t len, uint8_t qos, bool retain);
bool posix_mqtt_subscribe(posix_mqtt_t *m, const char *topic, uint8_t qos);
/* Reconnects when due and runs keepalives; returns ms until it wants the
 * next call. */
uint64_t posix_mqtt_service(posix_mqtt_t *m, uint64_t now);
/* Socket and poll events to wait for; -1 when not connected. */
int posix_mqtt_fd(posix_mqtt_t *m, short *events);
void posix_mqtt_io(posix_mqtt_t *m, short revents);
/* Retained "offline" status, then DISCONNECT (no last will on clean stop). */
void posix_mqtt_shutdown(posix_mqtt_t *m);

/* Serial transport on a tty/pty path. */
int posix_serial_open(const char *path, unsigned baud);
bool posix_serial_write(int fd, const uint8_t *data, size_t len);

#endif
