/* Unit tests of the node's building blocks: outbox, batcher, schedule,
 * backoff, topics. */
#include <string.h>

#include "harness.h"
#include "suites.h"

#include "edge_backoff.h"
#include "edge_batcher.h"
#include "edge_config.h"
#include "edge_outbox.h"
#include "edge_sched.h"
#include "edge_topic.h"

static edge_outbox_t ob;

static void push_n(uint32_t seq, uint16_t count)
{
    uint8_t s[EDGE_BATCH_SIZE_MAX] = {0};
    uint32_t o[EDGE_BATCH_SIZE_MAX];
    float v[EDGE_BATCH_SIZE_MAX];
    for (uint16_t k = 0; k < count; k++) {
        s[k] = (uint8_t)(k % 3);
        o[k] = seq * 1000u + k;
        v[k] = (float)seq + (float)k / 100.0f;
    }
    CHECK_EQ(edge_outbox_push(&ob, seq, 1000u + seq, false, s, o, v, count), EDGE_OK);
}

static void outbox_fifo_and_ack_by_seq(void)
{
    edge_outbox_init(&ob);
    for (uint32_t seq = 0; seq < 5; seq++) {
        push_n(seq, 16);
    }
    CHECK_EQ(edge_outbox_pending_count(&ob), 5);
    CHECK_EQ(edge_outbox_at(&ob, 0)->seq, 0);
    /* ack in the middle: marked done, space kept until older ones go */
    CHECK(edge_outbox_ack_seq(&ob, 2));
    CHECK_EQ(edge_outbox_pending_count(&ob), 4);
    CHECK_EQ(ob.len, 5);
    CHECK(!edge_outbox_ack_seq(&ob, 2)); /* duplicate ack: ignored */
    CHECK(edge_outbox_ack_seq(&ob, 0));
    CHECK(edge_outbox_ack_seq(&ob, 1));
    CHECK_EQ(ob.len, 2); /* 0, 1 and the done 2 reclaimed */
    CHECK_EQ(edge_outbox_at(&ob, 0)->seq, 3);
    CHECK_EQ(ob.r_len, 32);
    CHECK(!edge_outbox_ack_seq(&ob, 99));
    /* readings come back as stored */
    uint8_t s;
    uint32_t o;
    float v;
    edge_outbox_reading(&ob, edge_outbox_at(&ob, 1), 5, &s, &o, &v);
    CHECK_EQ(s, 2);
    CHECK_EQ(o, 4005);
}

static void outbox_overflow_drops_oldest(void)
{
    edge_outbox_init(&ob);
    for (uint32_t seq = 0; seq < EDGE_OUTBOX_CAPACITY + 10; seq++) {
        push_n(seq, 16);
    }
    CHECK_EQ(ob.dropped, 10);
    CHECK_EQ(ob.len, EDGE_OUTBOX_CAPACITY);
    CHECK_EQ(edge_outbox_at(&ob, 0)->seq, 10);
    CHECK_EQ(edge_outbox_at(&ob, EDGE_OUTBOX_CAPACITY - 1)->seq, EDGE_OUTBOX_CAPACITY + 9);
    /* readings pool pressure: big batches evict several small ones */
    edge_outbox_init(&ob);
    for (uint32_t seq = 0; seq < EDGE_OUTBOX_READINGS; seq++) {
        push_n(seq, 1);
    }
    CHECK_EQ(ob.dropped, EDGE_OUTBOX_READINGS - EDGE_OUTBOX_CAPACITY);
    push_n(5000, 64);
    CHECK(ob.r_len <= EDGE_OUTBOX_READINGS);
    CHECK_EQ(edge_outbox_at(&ob, ob.len - 1)->seq, 5000);
    /* ring wrap: the last batch reads back intact */
    uint8_t s;
    uint32_t o;
    float v;
    edge_outbox_reading(&ob, edge_outbox_at(&ob, ob.len - 1), 63, &s, &o, &v);
    CHECK_EQ(o, 5000u * 1000u + 63u);
    CHECK_EQ(edge_outbox_push(&ob, 1, 0, false, &s, &o, &v, 0), EDGE_ERR_BAD_FIELD);
}

static void outbox_msg_id_and_requeue(void)
{
    edge_outbox_init(&ob);
    push_n(0, 2);
    push_n(1, 2);
    edge_outbox_at(&ob, 0)->state = EDGE_OB_IN_FLIGHT;
    edge_outbox_at(&ob, 0)->msg_id = 7;
    CHECK(!edge_outbox_ack_msg_id(&ob, 8));
    edge_outbox_requeue_all(&ob);
    CHECK_EQ(edge_outbox_at(&ob, 0)->state, EDGE_OB_PENDING);
    CHECK(!edge_outbox_ack_msg_id(&ob, 7)); /* a stale id after requeue */
    edge_outbox_at(&ob, 1)->state = EDGE_OB_IN_FLIGHT;
    edge_outbox_at(&ob, 1)->msg_id = 9;
    CHECK(edge_outbox_ack_msg_id(&ob, 9));
    CHECK_EQ(edge_outbox_pending_count(&ob), 1);
}

static void batcher_closes_at_size_or_age(void)
{
    static edge_batcher_t b;
    edge_batcher_init(&b, 3, 5000);
    CHECK(!edge_batcher_add(&b, 100, 7777, true, 0, 1.0f));
    CHECK(!edge_batcher_add(&b, 600, 9999, false, 1, 2.0f));
    CHECK(edge_batcher_add(&b, 1100, 0, false, 0, 3.0f));
    CHECK_EQ(b.time_ms, 7777); /* fixed by the first reading */
    CHECK(b.unsynced);
    CHECK_EQ(b.offset[1], 500);
    CHECK_EQ(b.offset[2], 1000);
    CHECK(edge_batcher_add(&b, 1200, 0, false, 0, 4.0f)); /* full: refused */
    CHECK_EQ(b.count, 3);
    edge_batcher_clear(&b);
    CHECK(!edge_batcher_expired(&b, 1u << 30)); /* empty never expires */
    edge_batcher_add(&b, 2000, 1, false, 0, 1.0f);
    CHECK(!edge_batcher_expired(&b, 6999));
    CHECK(edge_batcher_expired(&b, 7000));
    edge_batcher_set_size(&b, 1000);
    CHECK_EQ(b.batch_size, EDGE_BATCH_SIZE_MAX);
    edge_batcher_set_size(&b, 0);
    CHECK_EQ(b.batch_size, 1);
    CHECK(edge_batcher_full(&b));
}

static void sched_ticks_and_skips_missed(void)
{
    edge_sched_t s;
    edge_sched_init(&s, 1000, 50);
    CHECK(edge_sched_due(&s, 50));
    CHECK(!edge_sched_due(&s, 1049));
    CHECK(edge_sched_due(&s, 1050));
    CHECK(edge_sched_due(&s, 9000)); /* stalled for 8 s: one tick, not 8 */
    CHECK(!edge_sched_due(&s, 9500));
    CHECK(edge_sched_due(&s, 10000));
    edge_sched_set_interval(&s, 200, 10000);
    CHECK(!edge_sched_due(&s, 10100));
    CHECK(edge_sched_due(&s, 10200));
}

static void backoff_grows_with_jitter_and_caps(void)
{
    static const uint32_t ceiling[] = {500, 1000, 2000, 4000, 8000, 8000, 8000};
    edge_backoff_t b;
    edge_backoff_init(&b, 500, 8000);
    for (size_t i = 0; i < sizeof ceiling / sizeof ceiling[0]; i++) {
        CHECK_EQ(edge_backoff_next(&b, 0), ceiling[i] / 2); /* lowest jitter */
    }
    edge_backoff_reset(&b);
    for (size_t i = 0; i < sizeof ceiling / sizeof ceiling[0]; i++) {
        uint32_t d = edge_backoff_next(&b, 0xdeadbeefu + (uint32_t)i);
        CHECK(d >= ceiling[i] / 2 && d <= ceiling[i]);
    }
    for (int i = 0; i < 100; i++) {
        CHECK(edge_backoff_next(&b, UINT32_MAX) <= 8000); /* capped, no overflow */
    }
}

static void topic_build_and_validate(void)
{
    char t[EDGE_TOPIC_MAX];
    CHECK_EQ(edge_topic_build(t, sizeof t, "factory/floor1", "node-1", EDGE_TOPIC_TELEMETRY), EDGE_OK);
    CHECK(th_streq(t, "factory/floor1/node-1/telemetry"));
    CHECK_EQ(edge_topic_build(t, sizeof t, "p", "esp32-a1b2c3d4e5f6", EDGE_TOPIC_STATUS), EDGE_OK);
    CHECK(th_streq(t, "p/esp32-a1b2c3d4e5f6/status"));
    CHECK_EQ(edge_topic_build(t, sizeof t, "a/b/c", "d", EDGE_TOPIC_CMD), EDGE_OK);
    CHECK(th_streq(t, "a/b/c/d/cmd"));
    static const char *const bad[] = {"", "/a", "a/", "a//b", "a.b", "a/+", "a/#", "sp ace"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(!edge_valid_topic_prefix(bad[i]));
        CHECK_EQ(edge_topic_build(t, sizeof t, bad[i], "d", EDGE_TOPIC_CMD), EDGE_ERR_BAD_FIELD);
    }
    CHECK_EQ(edge_topic_build(t, sizeof t, "a", "d.e", EDGE_TOPIC_CMD), EDGE_ERR_BAD_FIELD);
    CHECK_EQ(edge_topic_build(t, 8, "a", "dev", EDGE_TOPIC_TELEMETRY), EDGE_ERR_NO_SPACE);
    CHECK(th_streq(t, ""));
    char level65[70];
    memset(level65, 'x', 65);
    level65[65] = '\0';
    CHECK(!edge_valid_topic_prefix(level65));
    level65[64] = '\0';
    CHECK(edge_valid_topic_prefix(level65));
}

void suite_modules(void)
{
    RUN("outbox", outbox_fifo_and_ack_by_seq);
    RUN("outbox", outbox_overflow_drops_oldest);
    RUN("outbox", outbox_msg_id_and_requeue);
    RUN("batcher", batcher_closes_at_size_or_age);
    RUN("sched", sched_ticks_and_skips_missed);
    RUN("backoff", backoff_grows_with_jitter_and_caps);
    RUN("topic", topic_build_and_validate);
}
