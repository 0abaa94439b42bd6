/* Tiny test harness: runs on the host and under QEMU (semihosting printf).
 * A test case is a named block of checks; its last line of output is
 * "N passed, N failed". */
#ifndef HARNESS_H
#define HARNESS_H

#include <stddef.h>
#include <stdint.h>

void th_begin(const char *suite, const char *name);
void th_end(void);
void th_fail(const char *file, int line, const char *what);
int th_summary(void); /* prints the summary; returns the process exit code */
void th_hexdump(const char *label, const uint8_t *p, size_t n);

#define CHECK(cond) \
    do { if (!(cond)) th_fail(__FILE__, __LINE__, #cond); } while (0)

#define CHECK_EQ(a, b)                                                   \
    do {                                                                 \
        unsigned long long th_a = (unsigned long long)(a);               \
        unsigned long long th_b = (unsigned long long)(b);               \
        if (th_a != th_b) {                                              \
            th_fail(__FILE__, __LINE__, #a " == " #b);                   \
            th_note_values(th_a, th_b);                                  \
        }                                                                \
    } while (0)

#define CHECK_MEM(got, got_len, want, want_len)                                \
    do {                                                                       \
        if ((size_t)(got_len) != (size_t)(want_len) ||                         \
            th_memcmp((got), (want), (size_t)(want_len)) != 0) {               \
            th_fail(__FILE__, __LINE__, "bytes " #got " == " #want);           \
            th_hexdump("  got ", (got), (got_len));                            \
            th_hexdump("  want", (want), (want_len));                          \
        }                                                                      \
    } while (0)

void th_note_values(unsigned long long got, unsigned long long want);
int th_memcmp(const void *a, const void *b, size_t n);
int th_streq(const char *a, const char *b);

/* One test case per function. */
#define RUN(suite, fn) do { th_begin(suite, #fn); fn(); th_end(); } while (0)

#endif
