#include "edge_err.h"

const char *edge_err_name(edge_err_t err)
{
    switch (err) {
    case EDGE_OK: return "ok";
    case EDGE_ERR_MALFORMED: return "malformed";
    case EDGE_ERR_BAD_FIELD: return "bad_field";
    case EDGE_ERR_BAD_OP: return "bad_op";
    case EDGE_ERR_BAD_ARG: return "bad_arg";
    case EDGE_ERR_UNSUPPORTED_VERSION: return "unsupported_version";
    case EDGE_ERR_TOO_LARGE: return "too_large";
    case EDGE_ERR_NO_SPACE: return "no_space";
    case EDGE_ERR_BAD_CRC: return "bad_crc";
    case EDGE_ERR_BAD_COBS: return "bad_cobs";
    case EDGE_ERR_OVERSIZED: return "oversized";
    case EDGE_ERR_TRUNCATED: return "truncated";
    case EDGE_ERR_BAD_VERSION: return "bad_version";
    case EDGE_ERR_BAD_TYPE: return "bad_type";
    case EDGE_ERR_HAL: return "hal";
    case EDGE_ERR_NOT_FOUND: return "not_found";
    case EDGE_ERR_BAD_CONFIG: return "bad_config";
    }
    return "unknown";
}
