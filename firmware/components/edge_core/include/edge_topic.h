/* MQTT topics: <prefix>/<device>/telemetry|status|cmd (PROTOCOL.md 2). */
#ifndef EDGE_TOPIC_H
#define EDGE_TOPIC_H

#include <stdbool.h>
#include <stddef.h>

#include "edge_err.h"

typedef enum {
    EDGE_TOPIC_TELEMETRY,
    EDGE_TOPIC_STATUS,
    EDGE_TOPIC_CMD
} edge_topic_kind_t;

/* One or more '/'-separated levels of 1..64 [A-Za-z0-9_-], no leading,
 * trailing or double '/'. */
bool edge_valid_topic_prefix(const char *prefix);

/* EDGE_ERR_BAD_FIELD for an invalid prefix/device, EDGE_ERR_NO_SPACE if
 * cap is too small (out is then ""). */
edge_err_t edge_topic_build(char *out, size_t cap, const char *prefix,
                            const char *device, edge_topic_kind_t kind);

#endif
