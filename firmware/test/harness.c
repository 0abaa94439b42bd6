#include "harness.h"

#include <stdio.h>
#include <string.h>

static unsigned passed, failed;
static const char *cur_suite, *cur_name;
static unsigned cur_failures;

void th_begin(const char *suite, const char *name)
{
    cur_suite = suite;
    cur_name = name;
    cur_failures = 0;
}

void th_end(void)
{
    if (cur_failures) {
        failed++;
    } else {
        passed++;
    }
}

void th_fail(const char *file, int line, const char *what)
{
    if (cur_failures++ < 5) { /* keep the log readable */
        printf("FAIL %s/%s at %s:%d: %s\n", cur_suite, cur_name, file, line, what);
    }
}

void th_note_values(unsigned long long got, unsigned long long want)
{
    if (cur_failures <= 5) {
        printf("  got %llu, want %llu\n", got, want);
    }
}

void th_hexdump(const char *label, const uint8_t *p, size_t n)
{
    if (cur_failures > 5) {
        return;
    }
    printf("%s (%u):", label, (unsigned)n);
    for (size_t i = 0; i < n && i < 64; i++) {
        printf(" %02x", p[i]);
    }
    printf(n > 64 ? " ...\n" : "\n");
}

int th_memcmp(const void *a, const void *b, size_t n)
{
    return n == 0 ? 0 : memcmp(a, b, n);
}

int th_streq(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

int th_summary(void)
{
    printf("%u passed, %u failed\n", passed, failed);
    return failed ? 1 : 0;
}
