#include "edge_status.h"

#include <string.h>

#include "edge_batch.h"
#include "edge_msgpack.h"
#include "edge_proto.h"

static void put_str0(edge_mp_writer_t *w, const char *s)
{
    edge_mp_put_str(w, s, strlen(s));
}

/* The first four keys are shared by the full status and the will. */
static void put_common(edge_mp_writer_t *w, uint32_t keys, const char *device,
                       uint32_t boot, const char *state)
{
    edge_mp_put_map(w, keys);
    put_str0(w, "v");
    edge_mp_put_uint(w, EDGE_PROTOCOL_VERSION);
    put_str0(w, "d");
    put_str0(w, device);
    put_str0(w, "b");
    edge_mp_put_uint(w, boot);
    put_str0(w, "st");
    put_str0(w, state);
}

static edge_err_t done(const edge_mp_writer_t *w, size_t *out_len)
{
    if (w->overflow) {
        return EDGE_ERR_NO_SPACE;
    }
    *out_len = w->len;
    return EDGE_OK;
}

edge_err_t edge_status_encode(const edge_status_t *s,
                              uint8_t *out, size_t cap, size_t *out_len)
{
    if (!edge_valid_device_id(s->device)) {
        return EDGE_ERR_BAD_FIELD;
    }
    edge_mp_writer_t w;
    edge_mp_writer_init(&w, out, cap);
    put_common(&w, 11, s->device, s->boot, "online");
    put_str0(&w, "up");
    edge_mp_put_uint(&w, s->uptime_s);
    put_str0(&w, "rssi");
    edge_mp_put_int(&w, s->rssi);
    put_str0(&w, "heap");
    edge_mp_put_uint(&w, s->heap);
    put_str0(&w, "drop");
    edge_mp_put_uint(&w, s->drop);
    put_str0(&w, "iv");
    edge_mp_put_uint(&w, s->interval_ms);
    put_str0(&w, "bs");
    edge_mp_put_uint(&w, s->batch_size);
    put_str0(&w, "cmd");
    edge_mp_put_uint(&w, s->last_cmd);
    return done(&w, out_len);
}

edge_err_t edge_will_encode(const char *device, uint32_t boot,
                            uint8_t *out, size_t cap, size_t *out_len)
{
    if (!edge_valid_device_id(device)) {
        return EDGE_ERR_BAD_FIELD;
    }
    edge_mp_writer_t w;
    edge_mp_writer_init(&w, out, cap);
    put_common(&w, 4, device, boot, "offline");
    return done(&w, out_len);
}
