/* edge-node: the edge_core sensor node as a Linux process (a "virtual
 * node"). One poll() loop drives the core; see posix_port.h. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <mosquitto.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "posix_port.h"

#define SERIAL_REOPEN_MS 500u
#define MAX_SLEEP_MS 1000u

static edge_node_t s_node; /* ~15 KB, see edge_node.h */
static int s_sig_pipe[2] = {-1, -1};
static volatile sig_atomic_t s_stop;

/* Self-pipe: a signal between the stop check and poll() still wakes poll. */
static void on_signal(int sig)
{
    int saved = errno;
    s_stop = sig;
    if (write(s_sig_pipe[1], "x", 1) < 0) {
        /* pipe full: poll is already awake */
    }
    errno = saved;
}

static void install_signals(void)
{
    if (pipe2(s_sig_pipe, O_NONBLOCK | O_CLOEXEC) != 0) {
        perror("edge-node: pipe2");
        exit(1);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN); /* a closed socket/pty shows up as EPIPE instead */
}

static void serial_read(posix_ctx_t *ctx)
{
    uint8_t buf[512];
    for (;;) {
        ssize_t n = read(ctx->serial_fd, buf, sizeof buf);
        if (n > 0) {
            posix_deliver_serial(ctx, buf, (size_t)n);
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            return;
        }
        /* EOF/EIO: the other end of the pty went away; reopen later */
        fprintf(stderr, "edge-node: warn: serial closed: %s\n", n == 0 ? "eof" : strerror(errno));
        close(ctx->serial_fd);
        ctx->serial_fd = -1;
        return;
    }
}

static uint64_t serial_service(posix_ctx_t *ctx, uint64_t now, uint64_t *reopen_at)
{
    if (ctx->serial_fd >= 0 || now < *reopen_at) {
        return ctx->serial_fd >= 0 ? MAX_SLEEP_MS : *reopen_at - now;
    }
    ctx->serial_fd = posix_serial_open(ctx->opts->serial_path, ctx->opts->baud);
    if (ctx->serial_fd < 0) {
        fprintf(stderr, "edge-node: warn: open %s: %s\n", ctx->opts->serial_path, strerror(errno));
        ctx->serial_was_gone = true;
        *reopen_at = now + SERIAL_REOPEN_MS;
        return SERIAL_REOPEN_MS;
    }
    /* Only a real replug (the device node was gone) resets the retransmit
     * backoff: a pty can report EOF while its peer is away, and resending the
     * whole outbox on each such reopen would flood the link. */
    if (ctx->serial_was_gone) {
        ctx->serial_was_gone = false;
        edge_node_on_serial_reopened(&s_node);
    }
    return MAX_SLEEP_MS;
}

static void run(posix_ctx_t *ctx)
{
    const posix_opts_t *o = ctx->opts;
    uint64_t serial_reopen_at = 0;
    uint64_t anchor = posix_now_ms(); /* real time at which vclock was last set */
    while (!s_stop && !ctx->reboot_requested) {
        uint64_t real = posix_now_ms();
        uint64_t wait = o->transport == EDGE_TRANSPORT_MQTT
                            ? posix_mqtt_service(ctx->mqtt, real)
                            : serial_service(ctx, real, &serial_reopen_at);
        if (ctx->virtual_clock) {
            uint64_t due = edge_node_next_due_ms(&s_node);
            if (due > ctx->vclock && real - anchor >= due - ctx->vclock) {
                anchor += due - ctx->vclock;
                ctx->vclock = due;
            }
        }
        uint64_t now = ctx->virtual_clock ? ctx->vclock : real;
        edge_node_step(&s_node, now);
        if (o->count != 0 && s_node.stats.acked >= o->count) {
            break;
        }
        uint64_t due = edge_node_next_due_ms(&s_node);
        uint64_t until_due = due > now ? due - now : 0;
        if (ctx->virtual_clock && until_due > 0) {
            uint64_t spent = real - anchor;
            until_due = until_due > spent ? until_due - spent : 0;
        }
        if (until_due < wait) {
            wait = until_due;
        }

        struct pollfd fds[2] = {{.fd = s_sig_pipe[0], .events = POLLIN}, {.fd = -1}};
        if (o->transport == EDGE_TRANSPORT_MQTT) {
            fds[1].fd = posix_mqtt_fd(ctx->mqtt, &fds[1].events);
        } else {
            fds[1].fd = ctx->serial_fd;
            fds[1].events = POLLIN;
        }
        int rc = poll(fds, 2, (int)(wait > MAX_SLEEP_MS ? MAX_SLEEP_MS : wait));
        if (rc < 0 && errno != EINTR) {
            perror("edge-node: poll");
            break;
        }
        if (rc <= 0 || fds[1].fd < 0 || fds[1].revents == 0) {
            continue;
        }
        if (o->transport == EDGE_TRANSPORT_MQTT) {
            posix_mqtt_io(ctx->mqtt, fds[1].revents);
        } else {
            serial_read(ctx);
        }
    }
}

int main(int argc, char **argv)
{
    static posix_opts_t opts;
    static posix_ctx_t ctx;
    edge_hal_t hal;
    setvbuf(stdout, NULL, _IOLBF, 0); /* a parent reads our lines as they come */
    posix_parse_args(argc, argv, &opts);
    if (!posix_mkdirs(opts.state_dir)) {
        fprintf(stderr, "edge-node: state dir %s: %s\n", opts.state_dir, strerror(errno));
        return 1;
    }
    ctx.opts = &opts;
    ctx.node = &s_node;
    ctx.serial_fd = -1;
    ctx.jitter_rng = opts.seed ^ 0x5bd1e995u; /* separate stream from the sensors */
    posix_sensors_init(&ctx.sensors, opts.seed, opts.sensors, opts.sensor_count);
    if (opts.readings_path != NULL) {
        posix_readings_load(&ctx.readings, opts.readings_path, opts.sensor_count);
    }
    ctx.virtual_clock = opts.clock_start_ms != 0;
    ctx.vclock = opts.clock_start_ms;
    hal_posix_init(&hal, &ctx);

    edge_node_config_t cfg = {
        .device_id = opts.device,
        .topic_prefix = opts.prefix,
        .firmware = opts.firmware,
        .sensor_names = opts.sensors,
        .sensor_count = opts.sensor_count,
        .transport = opts.transport,
        .interval_ms = opts.interval_ms,
        .batch_size = opts.batch,
        .batch_max_age_ms = opts.batch_age_ms,
        .ack_timeout_ms = opts.ack_timeout_ms,
        .mqtt_ack_timeout_ms = opts.mqtt_ack_timeout_ms,
        .status_period_ms = opts.status_period_ms,
    };
    edge_err_t err = edge_node_init(&s_node, &cfg, &hal);
    if (err == EDGE_ERR_BAD_CONFIG) {
        fprintf(stderr, "edge-node: invalid configuration (device id, prefix, sensors or firmware)\n");
        return 2;
    }
    /* EDGE_ERR_HAL: the core already logged it and retries the commit */

    install_signals();
    mosquitto_lib_init();
    if (opts.transport == EDGE_TRANSPORT_MQTT && (ctx.mqtt = posix_mqtt_new(&ctx)) == NULL) {
        fprintf(stderr, "edge-node: cannot create the MQTT client\n");
        return 1;
    }
    printf("edge-node: started device=%s boot=%" PRIu32 " transport=%s\n", opts.device,
           s_node.boot, opts.transport == EDGE_TRANSPORT_MQTT ? "mqtt" : "serial");

    run(&ctx);

    if (ctx.mqtt != NULL) {
        posix_mqtt_shutdown(ctx.mqtt);
        posix_mqtt_free(ctx.mqtt);
    }
    if (ctx.serial_fd >= 0) {
        close(ctx.serial_fd);
    }
    mosquitto_lib_cleanup();
    edge_node_stats_t st;
    edge_node_stats(&s_node, &st);
    printf("edge-node: stopped device=%s boot=%" PRIu32 " published=%" PRIu32 " acked=%" PRIu32
           " dropped=%" PRIu32 " batches=%" PRIu32 " retransmits=%" PRIu32 "%s\n",
           opts.device, st.boot, st.sent, st.acked, st.dropped, st.next_seq, st.retransmits,
           ctx.reboot_requested ? " reboot=1" : "");
    if (ctx.reboot_requested) {
        fflush(NULL);
        execv("/proc/self/exe", argv);
        perror("edge-node: reboot (execv)");
        return 1;
    }
    return 0;
}
