/* CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, no reflection, no xorout. */
#ifndef EDGE_CRC16_H
#define EDGE_CRC16_H

#include <stddef.h>
#include <stdint.h>

#define EDGE_CRC16_INIT 0xFFFFu

uint16_t edge_crc16_update(uint16_t crc, const uint8_t *data, size_t len);
uint16_t edge_crc16(const uint8_t *data, size_t len);

#endif
