/* The four string.h functions edge_core uses; wasm32 has no libc here
 * (defined in libc_min.c). */
#ifndef EDGE_WASM_STRING_H
#define EDGE_WASM_STRING_H
#include <stddef.h>
void *memcpy(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
#endif
