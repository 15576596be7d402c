/* test_sched_hostile.c: random and hostile messages never crash the engine
 * nor break its accounting (suite fast). Messages are random bytes under a
 * valid or invalid type, biased toward plausible ids so that lookups hit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "scheduler/ubc_sched.h"

static uint64_t
rng_next(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545f4914f6cdd1dull;
}

static void
hostile_message(struct ubc_msg *m, uint64_t *rng)
{
    static const uint16_t types[] = { UBC_MSG_JOB_SUBMIT,
                                      UBC_MSG_JOB_CANCEL,
                                      UBC_MSG_JOB_QUERY,
                                      UBC_MSG_PROVIDER_REGISTER,
                                      UBC_MSG_PROVIDER_HEARTBEAT,
                                      UBC_MSG_PROVIDER_DEREGISTER,
                                      UBC_MSG_TASK_RESULT,
                                      UBC_MSG_ACK,
                                      999 };
    for (size_t i = 0; i < sizeof(*m); i += 8) {
        uint64_t w = rng_next(rng);
        memcpy((uint8_t *)m + i, &w, 8);
    }
    uint64_t r = rng_next(rng);
    m->hdr.type = types[r % (sizeof(types) / sizeof(types[0]))];
    /* small ids and owners so that lookups, duplicates and owners collide */
    uint64_t id = 1 + (r >> 8) % 64;
    switch (m->hdr.type) {
    case UBC_MSG_JOB_SUBMIT:
        m->u.job_submit.job_id = 1 + (r >> 8) % 512; /* beyond the table: evictions */
        memset(m->u.job_submit.owner, (int)(r >> 20) % 3, UBC_KEY_BYTES);
        m->u.job_submit.demand.cpu_millis %= 9000;
        m->u.job_submit.task_count %= 6;
        m->u.job_submit.redundancy %= 4;
        m->u.job_submit.qos_class %= 9;
        m->u.job_submit.policy %= 6;
        m->u.job_submit.bid_per_task %= 300;
        m->u.job_submit.labels &= 1;
        m->u.job_submit.demand.gpu_count %= 2;
        m->u.job_submit.deadline_ns %= 100000000; /* jobs that never fit must leave */
        break;
    case UBC_MSG_JOB_CANCEL:
    case UBC_MSG_JOB_QUERY:
        m->u.job_ref.job_id = id;
        memset(m->u.job_ref.owner, (int)(r >> 20) % 3, UBC_KEY_BYTES);
        break;
    case UBC_MSG_PROVIDER_REGISTER:
        m->u.provider_register.provider_id = id % 16;
        m->u.provider_register.capacity.cpu_millis %= 64000;
        m->u.provider_register.capacity.gpu_count %= 3;
        m->u.provider_register.operator_id %= 6;
        m->u.provider_register.price_per_task %= 200;
        break;
    case UBC_MSG_PROVIDER_HEARTBEAT:
    case UBC_MSG_PROVIDER_DEREGISTER: m->u.heartbeat.provider_id = id % 16; break;
    case UBC_MSG_TASK_RESULT:
        m->u.task_result.job_id = id;
        m->u.task_result.provider_id = id % 16;
        m->u.task_result.task_index %= 6;
        m->u.task_result.replica %= 4;
        m->u.task_result.status %= 3;
        memset(m->u.task_result.result_hash, (int)(r >> 30) % 2, UBC_HASH_BYTES);
        break;
    default: break;
    }
}

static void
test_hostile_inputs(void **state)
{
    (void)state;
    struct ubc_sched_config c;
    ubc_sched_config_default(&c);
    c.max_jobs = 128, c.max_providers = 16, c.max_tasks = 256, c.queue_capacity = 32;
    c.max_owners = 8, c.quota_jobs_per_owner = 16, c.max_replicas_per_job = 16;
    c.heartbeat_suspect_ns = 5000000, c.heartbeat_down_ns = 10000000;
    c.class_preempt[0] = c.class_preempt[1] = 1;
    void *mem = aligned_alloc(64, (ubc_sched_footprint(&c) + 63) & ~(size_t)63);
    struct ubc_sched *s = ubc_sched_join(ubc_sched_new(mem, &c));
    assert_non_null(s);
    static struct ubc_msg out_msgs[1024];
    struct ubc_sched_out out = { .msgs = out_msgs, .capacity = 1024 };
    uint64_t rng = 0x1234567, now = 1000000000ull, escrow_locked = 0, escrow_back = 0;
    for (int step = 0; step < 200000; step++) {
        struct ubc_msg m;
        hostile_message(&m, &rng);
        now += rng_next(&rng) % 200000;
        /* The prefetch the node issues over each burst: any message, no
         * visible effect (counters and output unchanged). */
        struct ubc_sched_stats before, after;
        ubc_sched_stats_read(s, &before);
        struct ubc_msg *burst[1] = { &m };
        ubc_sched_prefetch(s, burst, 1);
        ubc_sched_stats_read(s, &after);
        assert_memory_equal(&before, &after, sizeof(before));
        assert_int_equal(out.count, 0);
        assert_int_equal(ubc_sched_handle(s, &m, now, &out), UBC_OK);
        if (step % 16 == 0)
            ubc_sched_tick(s, now, &out);
        for (uint32_t i = 0; i < out.count; i++) {
            if (out_msgs[i].hdr.type != UBC_MSG_LEDGER_OP)
                continue;
            struct ubc_settlement st;
            memcpy(&st, out_msgs[i].u.bytes, sizeof(st));
            if (st.kind == UBC_SETTLE_ESCROW_LOCK)
                escrow_locked += st.amount;
            else
                escrow_back += st.amount;
        }
        assert_true(escrow_back <= escrow_locked);
        out.count = 0;
    }
    struct ubc_sched_stats st;
    ubc_sched_stats_read(s, &st);
    assert_true(st.jobs_accepted > 100);
    assert_true(st.refusals[UBC_ERR_MALFORMED] > 100);
    assert_true(st.results_stale > 100);
    assert_int_equal(st.providers, st.providers_up + st.providers_suspect + st.providers_down +
                                       st.providers_draining);
    free(ubc_sched_delete(mem));
}

int
main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(test_hostile_inputs) };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
