#include "edge_cmd.h"

#include <stdbool.h>
#include <string.h>

#include "edge_msgpack.h"
#include "edge_proto.h"

static const char *const op_names[] = {
    [EDGE_OP_SET_INTERVAL] = "set_interval",
    [EDGE_OP_SET_BATCH] = "set_batch",
    [EDGE_OP_PING] = "ping",
    [EDGE_OP_REBOOT] = "reboot",
};

const char *edge_op_name(edge_op_t op)
{
    if (op <= EDGE_OP_NONE || op > EDGE_OP_REBOOT) {
        return NULL;
    }
    return op_names[op];
}

static bool str_is(const edge_mp_item_t *it, const char *s)
{
    size_t n = strlen(s);
    return it->kind == EDGE_MP_STR && it->len == n && memcmp(it->data, s, n) == 0;
}

/* What the structural pass saw of each known key. */
typedef struct {
    bool present;
    edge_mp_item_t item;
} field_t;

edge_err_t edge_cmd_parse(const uint8_t *data, size_t len, edge_cmd_t *out)
{
    edge_mp_reader_t r;
    edge_mp_item_t map;
    edge_mp_reader_init(&r, data, len);
    if (edge_mp_read(&r, &map) != EDGE_OK || map.kind != EDGE_MP_MAP) {
        return EDGE_ERR_MALFORMED;
    }

    /* Pass 1: structure only. Every key/value must be complete; values of
     * known keys are kept as scalars, containers are skipped. */
    field_t v = {0}, id = {0}, op = {0}, arg = {0};
    for (uint32_t i = 0; i < map.len; i++) {
        edge_mp_item_t key;
        if (edge_mp_read(&r, &key) != EDGE_OK) {
            return EDGE_ERR_MALFORMED;
        }
        if (key.kind == EDGE_MP_ARRAY || key.kind == EDGE_MP_MAP) {
            return EDGE_ERR_MALFORMED; /* only scalar keys make sense */
        }
        field_t *slot = str_is(&key, "v")     ? &v
                        : str_is(&key, "id")  ? &id
                        : str_is(&key, "op")  ? &op
                        : str_is(&key, "arg") ? &arg
                                              : NULL;
        edge_mp_reader_t at_value = r;
        if (edge_mp_skip(&r) != EDGE_OK) {
            return EDGE_ERR_MALFORMED;
        }
        if (slot) {
            slot->present = true;
            (void)edge_mp_read(&at_value, &slot->item); /* skip proved it reads */
        }
    }
    if (edge_mp_remaining(&r) != 0) {
        return EDGE_ERR_MALFORMED;
    }

    /* Pass 2: meaning. */
    if (!v.present || v.item.kind != EDGE_MP_UINT) {
        return EDGE_ERR_BAD_FIELD;
    }
    if (v.item.u != EDGE_PROTOCOL_VERSION) {
        return EDGE_ERR_UNSUPPORTED_VERSION;
    }
    if (!id.present || id.item.kind != EDGE_MP_UINT || id.item.u == 0 ||
        id.item.u > UINT32_MAX) {
        return EDGE_ERR_BAD_FIELD;
    }
    if (!op.present || op.item.kind != EDGE_MP_STR) {
        return EDGE_ERR_BAD_FIELD;
    }
    if (!arg.present || arg.item.kind != EDGE_MP_UINT || arg.item.u > UINT32_MAX) {
        return EDGE_ERR_BAD_FIELD;
    }

    edge_op_t which = EDGE_OP_NONE;
    for (int o = EDGE_OP_SET_INTERVAL; o <= EDGE_OP_REBOOT; o++) {
        if (str_is(&op.item, op_names[o])) {
            which = (edge_op_t)o;
        }
    }
    if (which == EDGE_OP_NONE) {
        return EDGE_ERR_BAD_OP;
    }
    uint64_t a = arg.item.u;
    bool in_range;
    switch (which) {
    case EDGE_OP_SET_INTERVAL:
        in_range = a >= EDGE_INTERVAL_MIN_MS && a <= EDGE_INTERVAL_MAX_MS;
        break;
    case EDGE_OP_SET_BATCH:
        in_range = a >= EDGE_BATCH_SIZE_MIN && a <= EDGE_BATCH_SIZE_MAX;
        break;
    default:
        in_range = (a == 0);
        break;
    }
    if (!in_range) {
        return EDGE_ERR_BAD_ARG;
    }
    out->id = (uint32_t)id.item.u;
    out->op = which;
    out->arg = (uint32_t)a;
    return EDGE_OK;
}

edge_err_t edge_cmd_encode(const edge_cmd_t *cmd,
                           uint8_t *out, size_t cap, size_t *out_len)
{
    const char *name = edge_op_name(cmd->op);
    if (name == NULL || cmd->id == 0) {
        return EDGE_ERR_BAD_FIELD;
    }
    edge_mp_writer_t w;
    edge_mp_writer_init(&w, out, cap);
    edge_mp_put_map(&w, 4);
    edge_mp_put_str(&w, "v", 1);
    edge_mp_put_uint(&w, EDGE_PROTOCOL_VERSION);
    edge_mp_put_str(&w, "id", 2);
    edge_mp_put_uint(&w, cmd->id);
    edge_mp_put_str(&w, "op", 2);
    edge_mp_put_str(&w, name, strlen(name));
    edge_mp_put_str(&w, "arg", 3);
    edge_mp_put_uint(&w, cmd->arg);
    if (w.overflow) {
        return EDGE_ERR_NO_SPACE;
    }
    *out_len = w.len;
    return EDGE_OK;
}
