/* Synthetic sensors. Readings depend only on the seed and the order of
 * reads, never on time, so a seed replays the same values. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "posix_port.h"

/* splitmix64: tiny, full-period, good enough for test data and jitter. */
uint32_t posix_rand_u32(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return (uint32_t)((z ^ (z >> 31)) >> 32);
}

/* Uniform in [-1, 1). */
static float noise(uint64_t *rng)
{
    return (float)posix_rand_u32(rng) / 2147483648.0f - 1.0f;
}

static float round2(float v)
{
    return roundf(v * 100.0f) / 100.0f;
}

static float clampf(float v, float lo, float hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

void posix_sensors_init(posix_sensors_t *s, uint64_t seed, const char *const *names,
                        uint8_t count)
{
    memset(s, 0, sizeof *s);
    s->rng = seed;
    for (uint8_t i = 0; i < count && i < EDGE_SENSORS_MAX; i++) {
        /* pot starts mid-scale; others start at 0 of their walk */
        s->level[i] = strcmp(names[i], "pot") == 0 ? 2048.0f : 0.0f;
    }
}

float posix_sensor_next(posix_sensors_t *s, const char *name, uint8_t i)
{
    float t = (float)s->tick[i]++;
    float n = noise(&s->rng);
    if (strcmp(name, "temperature") == 0) {
        return round2(21.0f + 2.0f * sinf(t * 0.05f) + 0.2f * n);
    }
    if (strcmp(name, "humidity") == 0) {
        return round2(clampf(45.0f + 8.0f * sinf(t * 0.03f + 1.0f) + 0.5f * n, 0.0f, 100.0f));
    }
    if (strcmp(name, "pot") == 0) { /* 12-bit ADC, a hand turning the knob */
        s->level[i] = clampf(s->level[i] + roundf(60.0f * n), 0.0f, 4095.0f);
        return s->level[i];
    }
    s->level[i] = clampf(s->level[i] + n, -50.0f, 50.0f); /* unknown: 50 +- walk */
    return round2(50.0f + s->level[i]);
}

#define READINGS_MAX_ROWS 65536u

static _Noreturn void readings_die(const char *path, unsigned line, const char *what)
{
    fprintf(stderr, "edge-node: --readings %s:%u: %s\n", path, line, what);
    exit(2);
}

/* Values are parsed as double, then rounded to float: the same two steps as
 * JavaScript's Math.fround(Number(text)), so a browser port given the same
 * file reads the same bits. */
void posix_readings_load(posix_readings_t *r, const char *path, uint8_t cols)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "edge-node: --readings %s: %s\n", path, strerror(errno));
        exit(2);
    }
    r->cols = cols;
    r->rows = 0;
    r->value = NULL;
    char buf[1024];
    unsigned line = 0;
    while (fgets(buf, sizeof buf, f) != NULL) {
        line++;
        char *p = buf + strspn(buf, " \t");
        if (*p == '#' || *p == '\n' || *p == '\r' || *p == '\0') {
            continue;
        }
        if (r->rows == READINGS_MAX_ROWS) {
            readings_die(path, line, "too many lines");
        }
        float *row = realloc(r->value, ((size_t)r->rows + 1) * cols * sizeof *row);
        if (row == NULL) {
            readings_die(path, line, "out of memory");
        }
        r->value = row;
        row += (size_t)r->rows * cols;
        for (uint8_t i = 0; i < cols; i++) {
            char *end = NULL;
            errno = 0;
            double v = strtod(p, &end);
            if (end == p || errno != 0) {
                readings_die(path, line, "expected one number per sensor, comma-separated");
            }
            row[i] = (float)v;
            p = end + strspn(end, " \t");
            if (i + 1 < cols) {
                if (*p != ',') {
                    readings_die(path, line, "fewer values than sensors");
                }
                p++;
            }
        }
        if (*p != '\n' && *p != '\r' && *p != '\0') {
            readings_die(path, line, "more values than sensors");
        }
        r->rows++;
    }
    fclose(f);
    if (r->rows == 0) {
        readings_die(path, line, "no readings");
    }
}
