/* Downlink command (PROTOCOL.md section 6). The parser is a hardened reader:
 * any input yields an error code, never a crash. */
#ifndef EDGE_CMD_H
#define EDGE_CMD_H

#include <stddef.h>
#include <stdint.h>

#include "edge_err.h"

typedef enum {
    EDGE_OP_NONE = 0,
    EDGE_OP_SET_INTERVAL,
    EDGE_OP_SET_BATCH,
    EDGE_OP_PING,
    EDGE_OP_REBOOT
} edge_op_t;

typedef struct {
    uint32_t id;
    edge_op_t op;
    uint32_t arg;
} edge_cmd_t;

/* Errors, in the order they are checked:
 *   malformed            not one complete MessagePack map (truncated,
 *                        trailing bytes, not a map, lengths past the end)
 *   bad_field            v/id/op/arg missing or of the wrong type, id == 0
 *   unsupported_version  v != 1 (checked before the other fields)
 *   bad_op               op is not one of the four names
 *   bad_arg              arg outside its range (ping/reboot require 0)
 * Unknown keys are skipped. */
edge_err_t edge_cmd_parse(const uint8_t *data, size_t len, edge_cmd_t *out);
edge_err_t edge_cmd_encode(const edge_cmd_t *cmd,
                           uint8_t *out, size_t cap, size_t *out_len);
const char *edge_op_name(edge_op_t op); /* NULL for EDGE_OP_NONE/unknown */

#endif
