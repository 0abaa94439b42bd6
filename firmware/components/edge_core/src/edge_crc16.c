#include "edge_crc16.h"

/* Nibble table: 32 bytes of flash instead of 512, about 2x the work of a
 * byte table; CRC runs once per serial frame, not per reading. */
static const uint16_t crc_nibble[16] = {
    0x0000, 0x1021, 0x2042, 0x3063, 0x4084, 0x50a5, 0x60c6, 0x70e7,
    0x8108, 0x9129, 0xa14a, 0xb16b, 0xc18c, 0xd1ad, 0xe1ce, 0xf1ef,
};

uint16_t edge_crc16_update(uint16_t crc, const uint8_t *data, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        uint8_t b = data[i];
        crc = (uint16_t)((crc << 4) ^ crc_nibble[(crc >> 12) ^ (b >> 4)]);
        crc = (uint16_t)((crc << 4) ^ crc_nibble[(crc >> 12) ^ (b & 0x0f)]);
    }
    return crc;
}

uint16_t edge_crc16(const uint8_t *data, size_t len)
{
    return edge_crc16_update(EDGE_CRC16_INIT, data, len);
}
