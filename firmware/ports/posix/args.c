/* Command-line flags of edge-node. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "posix_port.h"

static const char usage[] =
    "usage: edge-node --device ID [options]\n"
    "  --device ID          device id ([A-Za-z0-9_-], 1..64)\n"
    "  --transport T        mqtt (default) or serial\n"
    "  --broker URL         mqtt://host:port (default mqtt://127.0.0.1:1883)\n"
    "  --prefix P           topic prefix (default factory/floor1)\n"
    "  --serial PATH        tty/pty path (serial transport)\n"
    "  --baud N             serial baud rate (default 115200)\n"
    "  --interval MS        sample interval, 100..3600000 (default 1000)\n"
    "  --batch N            readings per batch, 1..64 (default 16)\n"
    "  --batch-age MS       close a batch after MS (default 30000)\n"
    "  --ack-timeout MS     serial retransmit timeout (default 2000)\n"
    "  --mqtt-ack-timeout MS  PUBACK wait before a batch is resent (default 30000)\n"
    "  --status-period MS   periodic status (default 60000)\n"
    "  --sensors a,b,c      sensor names (default temperature,humidity,pot)\n"
    "  --state-dir DIR      boot counter directory (default ./edge-node-state/ID)\n"
    "  --seed N             seed of the synthetic sensors (default 1)\n"
    "  --count N            exit after N batches are acknowledged\n"
    "  --fw VERSION         firmware version string (default 1.0.0-posix)\n"
    "  --readings FILE      inject readings: one line per sample, one value per sensor\n"
    "                       (comma-separated, # comments), replayed in a loop\n"
    "  --clock-start MS     fixed clock: wall and monotonic time start at MS (epoch ms)\n"
    "                       and step to each due time exactly (deterministic batches)\n"
    "  --verbose            info logs; a stdout line per acknowledged batch\n";

static _Noreturn void die(const char *what, const char *arg)
{
    fprintf(stderr, "edge-node: %s%s%s\n%s", what, arg ? ": " : "", arg ? arg : "", usage);
    exit(2);
}

static uint64_t parse_u64(const char *flag, const char *s, uint64_t min, uint64_t max)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v < min || v > max) {
        char msg[96];
        snprintf(msg, sizeof msg, "%s wants an integer in %" PRIu64 "..%" PRIu64, flag, min, max);
        die(msg, s);
    }
    return v;
}

/* mqtt://host:port, or host:port; the port defaults to 1883. */
static void parse_broker(posix_opts_t *o, const char *arg)
{
    char *url = strdup(arg); /* argv stays intact for the reboot re-exec */
    if (url == NULL) {
        die("out of memory", NULL);
    }
    const char *scheme = "mqtt://";
    if (strncmp(url, scheme, strlen(scheme)) == 0) {
        url += strlen(scheme);
    } else if (strstr(url, "://") != NULL) {
        die("only mqtt:// brokers are supported", url);
    }
    char *colon = strrchr(url, ':');
    o->broker_port = 1883;
    if (colon != NULL) {
        *colon = '\0';
        o->broker_port = (int)parse_u64("--broker port", colon + 1, 1, 65535);
    }
    if (url[0] == '\0') {
        die("--broker has no host", NULL);
    }
    o->broker_host = url;
}

static void parse_sensors(posix_opts_t *o, const char *arg)
{
    char *list = strdup(arg);
    if (list == NULL) {
        die("out of memory", NULL);
    }
    o->sensor_count = 0;
    for (char *save = NULL, *tok = strtok_r(list, ",", &save); tok != NULL;
         tok = strtok_r(NULL, ",", &save)) {
        if (o->sensor_count == EDGE_SENSORS_MAX) {
            die("too many sensors", list);
        }
        o->sensors[o->sensor_count++] = tok;
    }
    if (o->sensor_count == 0) {
        die("--sensors is empty", NULL);
    }
}

void posix_parse_args(int argc, char **argv, posix_opts_t *o)
{
    static char state_dir[512];
    enum { O_DEVICE = 256, O_BROKER, O_PREFIX, O_INTERVAL, O_BATCH, O_BATCH_AGE,
           O_ACK_TIMEOUT, O_MQTT_ACK_TIMEOUT, O_STATUS_PERIOD, O_TRANSPORT, O_SERIAL, O_BAUD, O_STATE_DIR,
           O_SEED, O_COUNT, O_SENSORS, O_FW, O_VERBOSE, O_READINGS, O_CLOCK_START, O_HELP };
    static const struct option longopts[] = {
        {"device", required_argument, NULL, O_DEVICE},
        {"broker", required_argument, NULL, O_BROKER},
        {"prefix", required_argument, NULL, O_PREFIX},
        {"interval", required_argument, NULL, O_INTERVAL},
        {"batch", required_argument, NULL, O_BATCH},
        {"batch-age", required_argument, NULL, O_BATCH_AGE},
        {"ack-timeout", required_argument, NULL, O_ACK_TIMEOUT},
        {"mqtt-ack-timeout", required_argument, NULL, O_MQTT_ACK_TIMEOUT},
        {"status-period", required_argument, NULL, O_STATUS_PERIOD},
        {"transport", required_argument, NULL, O_TRANSPORT},
        {"serial", required_argument, NULL, O_SERIAL},
        {"baud", required_argument, NULL, O_BAUD},
        {"state-dir", required_argument, NULL, O_STATE_DIR},
        {"seed", required_argument, NULL, O_SEED},
        {"count", required_argument, NULL, O_COUNT},
        {"sensors", required_argument, NULL, O_SENSORS},
        {"fw", required_argument, NULL, O_FW},
        {"verbose", no_argument, NULL, O_VERBOSE},
        {"readings", required_argument, NULL, O_READINGS},
        {"clock-start", required_argument, NULL, O_CLOCK_START},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    o->prefix = "factory/floor1";
    o->interval_ms = 1000;
    o->batch = 16;
    o->transport = EDGE_TRANSPORT_MQTT;
    o->baud = 115200;
    o->seed = 1;
    o->firmware = "1.0.0-posix";
    const char *broker = "mqtt://127.0.0.1:1883";
    const char *sensors = "temperature,humidity,pot";

    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case O_DEVICE: o->device = optarg; break;
        case O_BROKER: broker = optarg; break;
        case O_PREFIX: o->prefix = optarg; break;
        case O_INTERVAL:
            o->interval_ms = (uint32_t)parse_u64("--interval", optarg, EDGE_INTERVAL_MIN_MS,
                                                 EDGE_INTERVAL_MAX_MS);
            break;
        case O_BATCH:
            o->batch = (uint32_t)parse_u64("--batch", optarg, EDGE_BATCH_SIZE_MIN,
                                           EDGE_BATCH_SIZE_MAX);
            break;
        case O_BATCH_AGE: o->batch_age_ms = (uint32_t)parse_u64("--batch-age", optarg, 1, UINT32_MAX); break;
        case O_ACK_TIMEOUT: o->ack_timeout_ms = (uint32_t)parse_u64("--ack-timeout", optarg, 1, UINT32_MAX); break;
        case O_MQTT_ACK_TIMEOUT:
            o->mqtt_ack_timeout_ms = (uint32_t)parse_u64("--mqtt-ack-timeout", optarg, 1, UINT32_MAX);
            break;
        case O_STATUS_PERIOD: o->status_period_ms = (uint32_t)parse_u64("--status-period", optarg, 1, UINT32_MAX); break;
        case O_TRANSPORT:
            if (strcmp(optarg, "mqtt") == 0) {
                o->transport = EDGE_TRANSPORT_MQTT;
            } else if (strcmp(optarg, "serial") == 0) {
                o->transport = EDGE_TRANSPORT_SERIAL;
            } else {
                die("--transport is mqtt or serial", optarg);
            }
            break;
        case O_SERIAL: o->serial_path = optarg; break;
        case O_BAUD: o->baud = (unsigned)parse_u64("--baud", optarg, 1, 4000000); break;
        case O_STATE_DIR: o->state_dir = optarg; break;
        case O_SEED: o->seed = parse_u64("--seed", optarg, 0, UINT64_MAX); break;
        case O_COUNT: o->count = (uint32_t)parse_u64("--count", optarg, 1, UINT32_MAX); break;
        case O_SENSORS: sensors = optarg; break;
        case O_FW: o->firmware = optarg; break;
        case O_VERBOSE: o->verbose = true; break;
        case O_READINGS: o->readings_path = optarg; break;
        case O_CLOCK_START: o->clock_start_ms = parse_u64("--clock-start", optarg, 1, UINT64_MAX / 2); break;
        case O_HELP: fputs(usage, stdout); exit(0);
        default: die("bad option", NULL);
        }
    }
    if (optind < argc) {
        die("unexpected argument", argv[optind]);
    }
    parse_broker(o, broker);
    parse_sensors(o, sensors);
    if (o->device == NULL) {
        die("--device is required", NULL);
    }
    if (o->transport == EDGE_TRANSPORT_SERIAL && o->serial_path == NULL) {
        die("--transport serial needs --serial PATH", NULL);
    }
    if (o->state_dir == NULL) {
        snprintf(state_dir, sizeof state_dir, "edge-node-state/%s", o->device);
        o->state_dir = state_dir;
    }
}
