/* libFuzzer: arbitrary bytes into the command parser. An accepted command
 * must be in range and re-encode to a payload that parses the same. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "edge_cmd.h"
#include "edge_msgpack.h"
#include "edge_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    edge_cmd_t c;
    edge_err_t err = edge_cmd_parse(data, size, &c);
    /* the generic skipper must agree on bounds too */
    edge_mp_reader_t r;
    edge_mp_reader_init(&r, data, size);
    (void)edge_mp_skip(&r);
    if (edge_mp_remaining(&r) > size) {
        abort();
    }
    if (err != EDGE_OK) {
        return 0;
    }
    if (c.id == 0 || edge_op_name(c.op) == NULL) {
        abort();
    }
    if (c.op == EDGE_OP_SET_INTERVAL &&
        (c.arg < EDGE_INTERVAL_MIN_MS || c.arg > EDGE_INTERVAL_MAX_MS)) {
        abort();
    }
    if (c.op == EDGE_OP_SET_BATCH && (c.arg < 1 || c.arg > EDGE_BATCH_SIZE_MAX)) {
        abort();
    }
    uint8_t buf[64];
    size_t n = 0;
    edge_cmd_t back;
    if (edge_cmd_encode(&c, buf, sizeof buf, &n) != EDGE_OK ||
        edge_cmd_parse(buf, n, &back) != EDGE_OK || back.id != c.id ||
        back.op != c.op || back.arg != c.arg) {
        abort();
    }
    return 0;
}
