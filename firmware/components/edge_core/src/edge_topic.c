#include "edge_topic.h"

#include <string.h>

#include "edge_batch.h"
#include "edge_proto.h"

static bool level_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_' || c == '-';
}

bool edge_valid_topic_prefix(const char *prefix)
{
    if (prefix == NULL) {
        return false;
    }
    size_t level = 0;
    for (const char *p = prefix;; p++) {
        if (*p == '/' || *p == '\0') {
            if (level == 0 || level > EDGE_TOPIC_LEVEL_MAX) {
                return false; /* empty level: leading, trailing or "//" */
            }
            if (*p == '\0') {
                return true;
            }
            level = 0;
        } else if (level_char(*p)) {
            level++;
        } else {
            return false;
        }
    }
}

edge_err_t edge_topic_build(char *out, size_t cap, const char *prefix,
                            const char *device, edge_topic_kind_t kind)
{
    static const char *const suffix[] = {"/telemetry", "/status", "/cmd"};
    if (cap > 0) {
        out[0] = '\0';
    }
    if (!edge_valid_topic_prefix(prefix) || !edge_valid_device_id(device) ||
        kind > EDGE_TOPIC_CMD) {
        return EDGE_ERR_BAD_FIELD;
    }
    size_t np = strlen(prefix), nd = strlen(device), ns = strlen(suffix[kind]);
    if (np + 1 + nd + ns + 1 > cap) {
        return EDGE_ERR_NO_SPACE;
    }
    memcpy(out, prefix, np);
    out[np] = '/';
    memcpy(out + np + 1, device, nd);
    memcpy(out + np + 1 + nd, suffix[kind], ns + 1);
    return EDGE_OK;
}
