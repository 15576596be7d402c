/* test_sched_soak.c: the engine under seeded synthetic traffic with
 * provider failures (suite fast). Checks, at every step and at the end:
 * settlements balance per job (lock = releases + refund), counters agree
 * with the tables, every job ends terminal once traffic stops, all capacity
 * comes back, and the same seed gives the same output stream. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "scheduler/ubc_sched.h"
#include "scheduler/ubc_synth.h"

#define MS 1000000ull
#define JOBS_MAX 200000u

struct soak {
    struct ubc_sched *s;
    struct ubc_synth *synth;
    struct ubc_msg *out_msgs;
    struct ubc_sched_out out;
    uint64_t *locked;  /* per job id */
    uint64_t *settled; /* releases + refunds per job id */
    uint64_t digest;   /* of every output, for determinism */
    uint64_t assignments;
    uint64_t statuses;
};

static void
soak_flush(struct soak *k, uint64_t now)
{
    for (uint32_t i = 0; i < k->out.count; i++) {
        const struct ubc_msg *m = &k->out_msgs[i];
        for (uint32_t b = 0; b < sizeof(*m); b += 8) {
            uint64_t w;
            memcpy(&w, (const uint8_t *)m + b, 8);
            k->digest = (k->digest ^ w) * 0x100000001b3ull;
        }
        if (m->hdr.type == UBC_MSG_ASSIGNMENT && m->hdr.flags == 0)
            k->assignments++;
        if (m->hdr.type == UBC_MSG_JOB_STATUS)
            k->statuses++;
        if (m->hdr.type != UBC_MSG_LEDGER_OP)
            continue;
        struct ubc_settlement st;
        memcpy(&st, m->u.bytes, sizeof(st));
        assert_true(st.job_id < JOBS_MAX);
        if (st.kind == UBC_SETTLE_ESCROW_LOCK)
            k->locked[st.job_id] += st.amount;
        else
            k->settled[st.job_id] += st.amount;
        assert_true(k->settled[st.job_id] <= k->locked[st.job_id]);
    }
    ubc_synth_observe(k->synth, k->out_msgs, k->out.count, now);
    k->out.count = 0;
}

static void
soak_step(struct soak *k, uint64_t now)
{
    struct ubc_msg in[256];
    uint32_t n = ubc_synth_poll(k->synth, now, in, 256);
    for (uint32_t i = 0; i < n; i++) {
        if (ubc_sched_handle(k->s, &in[i], now, &k->out) == UBC_ERR_OVERLOADED) {
            soak_flush(k, now);
            assert_int_equal(ubc_sched_handle(k->s, &in[i], now, &k->out), UBC_OK);
        }
    }
    soak_flush(k, now);
    ubc_sched_tick(k->s, now, &k->out);
    soak_flush(k, now);
}

static void
soak_check_counters(struct soak *k, uint32_t max_jobs)
{
    struct ubc_sched_stats st;
    ubc_sched_stats_read(k->s, &st);
    uint64_t by_state = 0, depth = 0;
    for (int i = 0; i < UBC_JOB_STATE_COUNT; i++)
        by_state += st.jobs_by_state[i];
    for (int i = 0; i < UBC_QOS_CLASSES; i++)
        depth += st.queue_depth[i];
    struct ubc_sched_job_summary list[256];
    uint32_t cursor = 0, listed = 0, pending = 0;
    while (cursor != UINT32_MAX) {
        uint32_t got = ubc_sched_jobs_list(k->s, NULL, &cursor, list, 256);
        for (uint32_t i = 0; i < got; i++)
            pending += list[i].state == UBC_JOB_PENDING;
        listed += got;
    }
    assert_int_equal(by_state, listed);
    assert_true(listed <= max_jobs);
    assert_true(depth >= pending); /* running jobs may wait for a replica too */
    assert_int_equal(st.providers, st.providers_up + st.providers_suspect + st.providers_down +
                                       st.providers_draining);
}

static uint32_t
soak_cancel_live(struct soak *k, uint64_t now)
{
    struct ubc_sched_job_filter filter = { .state_mask = 7, .qos_class = -1 };
    struct ubc_sched_job_summary list[64];
    uint32_t cursor = 0, cancelled = 0;
    while (cursor != UINT32_MAX) {
        uint32_t got = ubc_sched_jobs_list(k->s, &filter, &cursor, list, 64);
        for (uint32_t i = 0; i < got; i++) {
            struct ubc_msg m = { .hdr = { .type = UBC_MSG_JOB_CANCEL } };
            m.u.job_ref.job_id = list[i].job_id;
            memcpy(m.u.job_ref.owner, list[i].owner, UBC_KEY_BYTES);
            if (ubc_sched_handle(k->s, &m, now, &k->out) == UBC_ERR_OVERLOADED) {
                soak_flush(k, now);
                assert_int_equal(ubc_sched_handle(k->s, &m, now, &k->out), UBC_OK);
            }
            cancelled++;
        }
    }
    soak_flush(k, now);
    return cancelled;
}

static void
soak_check_end(struct soak *k)
{
    struct ubc_sched_stats st;
    ubc_sched_stats_read(k->s, &st);
    assert_true(st.jobs_accepted > 3000);
    assert_true(st.failovers >= 5);
    assert_int_equal(st.tasks_live, 0);
    for (int i = 0; i < UBC_QOS_CLASSES; i++)
        assert_int_equal(st.queue_depth[i], 0);
    assert_int_equal(st.jobs_by_state[UBC_JOB_PENDING] + st.jobs_by_state[UBC_JOB_ASSIGNED] +
                         st.jobs_by_state[UBC_JOB_RUNNING],
                     0);
    for (uint32_t id = 0; id < JOBS_MAX; id++)
        assert_int_equal(k->locked[id], k->settled[id]);
    assert_true(k->statuses >= st.jobs_accepted);
    struct ubc_sched_provider_summary list[64];
    uint32_t cursor = 0;
    while (cursor != UINT32_MAX) {
        uint32_t got = ubc_sched_providers_list(k->s, NULL, &cursor, list, 64);
        for (uint32_t i = 0; i < got; i++) {
            assert_int_equal(list[i].free.cpu_millis, list[i].capacity.cpu_millis);
            assert_int_equal(list[i].tasks, 0);
        }
    }
}

static uint64_t
soak_run(uint64_t seed)
{
    struct ubc_sched_config c;
    ubc_sched_config_default(&c);
    c.max_jobs = 4096, c.max_providers = 256, c.max_tasks = 16384, c.queue_capacity = 2048;
    c.max_owners = 128, c.quota_jobs_per_owner = 64, c.max_replicas_per_job = 16;
    c.heartbeat_suspect_ns = 60 * MS, c.heartbeat_down_ns = 150 * MS, c.aging_ns = 20 * MS;
    c.class_preempt[0] = 1;
    struct ubc_synth_params p;
    ubc_synth_params_default(&p);
    p.seed = seed, p.provider_count = 200, p.operator_count = 50, p.owner_count = 40;
    p.heartbeat_interval_ns = 20 * MS, p.job_interval_ns = MS / 4, p.fail_permille = 20;
    p.mismatch_permille = 5;
    struct soak k = { 0 };
    void *sched_mem = aligned_alloc(64, (ubc_sched_footprint(&c) + 63) & ~(size_t)63);
    void *synth_mem = aligned_alloc(64, (ubc_synth_footprint(&p) + 63) & ~(size_t)63);
    k.s = ubc_sched_join(ubc_sched_new(sched_mem, &c));
    k.synth = ubc_synth_join(ubc_synth_new(synth_mem, &p));
    assert_non_null(k.s);
    assert_non_null(k.synth);
    uint32_t room = ubc_sched_out_room_tick(k.s) * 2;
    k.out_msgs = calloc(room, sizeof(struct ubc_msg));
    k.out = (struct ubc_sched_out){ .msgs = k.out_msgs, .capacity = room };
    k.locked = calloc(JOBS_MAX, sizeof(uint64_t));
    k.settled = calloc(JOBS_MAX, sizeof(uint64_t));
    uint64_t now = 1000 * MS;
    for (uint32_t step = 0; step < 3000; step++, now += MS) {
        if (step == 1500)
            ubc_synth_set_job_interval(k.synth, 0);
        if (step % 300 == 299 && step < 2500)
            ubc_synth_kill_provider(k.synth, 1 + (step / 300) * 17 % 200);
        soak_step(&k, now);
        if (step % 500 == 0)
            soak_check_counters(&k, c.max_jobs);
    }
    /* Jobs that can never be placed (no deadline) wait forever: cancel the
     * stragglers, then everything must be back. */
    uint32_t cancelled = soak_cancel_live(&k, now);
    soak_step(&k, now);
    assert_true(cancelled < 200);
    soak_check_end(&k);
    uint64_t digest = k.digest;
    free(k.out_msgs), free(k.locked), free(k.settled);
    free(ubc_sched_delete(sched_mem));
    free(ubc_synth_delete(synth_mem));
    return digest;
}

static void
test_soak(void **state)
{
    (void)state;
    uint64_t a = soak_run(5);
    uint64_t b = soak_run(5);
    assert_true(a == b);
    assert_true(soak_run(6) != a);
}

int
main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(test_soak) };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
