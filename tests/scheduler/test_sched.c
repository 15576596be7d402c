/* test_sched.c: the job lifecycle engine driven by messages (suite fast). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "scheduler/ubc_sched.h"

#define MS 1000000ull
#define OUT_MAX 512u

struct fixture {
    void *mem;
    struct ubc_sched *s;
    struct ubc_msg msgs[OUT_MAX];
    struct ubc_sched_out out;
    uint64_t now;
};

static struct fixture *
fixture_make(void (*tweak)(struct ubc_sched_config *))
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    struct ubc_sched_config c;
    ubc_sched_config_default(&c);
    c.max_jobs = 64, c.max_providers = 64, c.max_tasks = 256, c.queue_capacity = 16;
    c.max_owners = 16, c.quota_jobs_per_owner = 8, c.max_replicas_per_job = 16;
    c.heartbeat_suspect_ns = 100 * MS, c.heartbeat_down_ns = 300 * MS;
    c.retry_interval_ns = 1 * MS, c.scan_max = 64;
    for (int i = 0; i < UBC_QOS_CLASSES; i++)
        c.class_preempt[i] = 0;
    if (tweak != NULL)
        tweak(&c);
    size_t bytes = ubc_sched_footprint(&c);
    assert_true(bytes > 0);
    f->mem = aligned_alloc(ubc_sched_align(), (bytes + 63) & ~(size_t)63);
    assert_non_null(f->mem);
    assert_non_null(ubc_sched_new(f->mem, &c));
    f->s = ubc_sched_join(f->mem);
    assert_non_null(f->s);
    f->out = (struct ubc_sched_out){ .msgs = f->msgs, .capacity = OUT_MAX };
    f->now = 1000 * MS;
    return f;
}

static void
fixture_free(struct fixture *f)
{
    ubc_sched_leave(f->s);
    free(ubc_sched_delete(f->mem));
    free(f);
}

static void
send(struct fixture *f, const struct ubc_msg *m)
{
    assert_int_equal(ubc_sched_handle(f->s, m, f->now, &f->out), UBC_OK);
}

static void
provider(struct fixture *f, uint64_t id, uint64_t op, uint32_t cpu, uint64_t price)
{
    struct ubc_msg m = { .hdr = { .type = UBC_MSG_PROVIDER_REGISTER, .peer = (uint32_t)id } };
    m.u.provider_register = (struct ubc_provider_register){ .provider_id = id,
                                                            .operator_id = op,
                                                            .capacity = { cpu, 16384, 0, 0 },
                                                            .price_per_task = price };
    m.u.provider_register.account[0] = (uint8_t)id;
    send(f, &m);
}

static void
heartbeat(struct fixture *f, uint64_t id, uint32_t flags)
{
    struct ubc_msg m = { .hdr = { .type = UBC_MSG_PROVIDER_HEARTBEAT, .peer = (uint32_t)id } };
    m.u.heartbeat = (struct ubc_provider_heartbeat){ .provider_id = id, .flags = flags };
    send(f, &m);
}

static struct ubc_msg
job_msg(uint64_t id, uint8_t owner, uint16_t tasks, uint8_t redundancy, uint32_t cpu)
{
    struct ubc_msg m = { .hdr = { .type = UBC_MSG_JOB_SUBMIT, .peer = 1000, .seq = id } };
    m.u.job_submit = (struct ubc_job_submit){ .job_id = id,
                                              .demand = { cpu, 1024, 0, 0 },
                                              .task_count = tasks,
                                              .redundancy = redundancy,
                                              .max_retries = 2,
                                              .bid_per_task = 100 };
    m.u.job_submit.owner[0] = owner;
    return m;
}

static void
result(struct fixture *f, const struct ubc_assignment *a, uint8_t status, uint8_t hash)
{
    struct ubc_msg m = { .hdr = { .type = UBC_MSG_TASK_RESULT } };
    m.u.task_result = (struct ubc_task_result){ .job_id = a->job_id,
                                                .provider_id = a->provider_id,
                                                .task_index = a->task_index,
                                                .replica = a->replica,
                                                .status = status };
    memset(m.u.task_result.result_hash, hash, UBC_HASH_BYTES);
    send(f, &m);
}

static uint32_t
count_type(struct fixture *f, uint16_t type, uint16_t flags)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < f->out.count; i++)
        if (f->msgs[i].hdr.type == type && f->msgs[i].hdr.flags == flags)
            n++;
    return n;
}

static struct ubc_settlement
settlement_at(struct fixture *f, uint32_t i)
{
    struct ubc_settlement st;
    memcpy(&st, f->msgs[i].u.bytes, sizeof(st));
    return st;
}

/* Sums settlements per kind over the current outputs. */
static void
settle_sums(struct fixture *f, uint64_t sums[4])
{
    memset(sums, 0, 4 * sizeof(uint64_t));
    for (uint32_t i = 0; i < f->out.count; i++)
        if (f->msgs[i].hdr.type == UBC_MSG_LEDGER_OP)
            sums[settlement_at(f, i).kind & 3] += settlement_at(f, i).amount;
}

static uint8_t
job_state(struct fixture *f, uint64_t id)
{
    struct ubc_sched_job_summary sum;
    assert_int_equal(ubc_sched_job_get(f->s, id, &sum), UBC_OK);
    return sum.state;
}

static void
test_lifecycle_validated(void **state)
{
    (void)state;
    struct fixture *f = fixture_make(NULL);
    for (uint64_t id = 1; id <= 4; id++)
        provider(f, id, id, 8000, 10 * id);
    assert_int_equal(count_type(f, UBC_MSG_ACK, 0), 4);
    f->out.count = 0;
    struct ubc_msg job = job_msg(77, 1, 2, 2, 1000);
    send(f, &job);
    assert_int_equal(count_type(f, UBC_MSG_ACK, 0), 1);
    assert_int_equal(f->msgs[0].hdr.seq, 77);
    assert_int_equal(settlement_at(f, 1).kind, UBC_SETTLE_ESCROW_LOCK);
    assert_int_equal(settlement_at(f, 1).amount, 400);
    f->out.count = 0;
    ubc_sched_tick(f->s, f->now, &f->out);
    assert_int_equal(count_type(f, UBC_MSG_ASSIGNMENT, 0), 4);
    struct ubc_assignment a[4];
    for (int i = 0; i < 4; i++)
        a[i] = f->msgs[i].u.assignment;
    for (int i = 0; i < 4; i += 2) {
        assert_int_equal(a[i].task_index, a[i + 1].task_index);
        assert_int_not_equal(a[i].provider_id, a[i + 1].provider_id);
        assert_int_equal(f->msgs[i].hdr.peer, a[i].provider_id);
    }
    assert_int_equal(job_state(f, 77), UBC_JOB_ASSIGNED);
    f->out.count = 0;
    heartbeat(f, a[0].provider_id, 0);
    assert_int_equal(job_state(f, 77), UBC_JOB_RUNNING);
    assert_int_equal(count_type(f, UBC_MSG_ACK, 0), 1); /* every heartbeat is answered */
    f->out.count = 0;
    for (int i = 0; i < 4; i++)
        result(f, &a[i], UBC_TASK_OK, 0xab);
    assert_int_equal(job_state(f, 77), UBC_JOB_VALIDATED);
    assert_int_equal(count_type(f, UBC_MSG_ACK, 0), 4); /* every result is answered */
    uint32_t acks_before = count_type(f, UBC_MSG_ACK, 0);
    result(f, &a[0], UBC_TASK_OK, 0xab); /* a retransmission after validation */
    assert_int_equal(count_type(f, UBC_MSG_ACK, 0), acks_before);
    assert_int_equal(f->msgs[f->out.count - 1].hdr.type, UBC_MSG_REFUSAL);
    assert_int_equal(f->msgs[f->out.count - 1].u.reply.error, UBC_ERR_UNKNOWN_JOB);
    f->out.count--;
    uint64_t sums[4], prices = 0;
    settle_sums(f, sums);
    for (int i = 0; i < 4; i++)
        prices += a[i].price;
    assert_int_equal(sums[UBC_SETTLE_RELEASE], prices);
    assert_int_equal(sums[UBC_SETTLE_RELEASE] + sums[UBC_SETTLE_REFUND], 400);
    assert_int_equal(count_type(f, UBC_MSG_JOB_STATUS, 0), 1);
    struct ubc_sched_stats st;
    ubc_sched_stats_read(f->s, &st);
    assert_int_equal(st.decisions, 4);
    assert_int_equal(st.jobs_by_state[UBC_JOB_VALIDATED], 1);
    assert_int_equal(st.tasks_live, 0);
    struct ubc_sched_provider_summary ps;
    assert_int_equal(ubc_sched_provider_get(f->s, 1, &ps), UBC_OK);
    assert_int_equal(ps.free.cpu_millis, 8000);
    fixture_free(f);
}

static uint16_t
last_error(struct fixture *f)
{
    assert_true(f->out.count > 0);
    return f->msgs[f->out.count - 1].u.reply.error;
}

static void
test_refusals(void **state)
{
    (void)state;
    struct fixture *f = fixture_make(NULL);
    provider(f, 1, 1, 8000, 10);
    struct ubc_msg m = job_msg(1, 1, 1, 1, 1000);
    m.u.job_submit.qos_class = 9;
    send(f, &m);
    assert_int_equal(last_error(f), UBC_ERR_MALFORMED);
    m = job_msg(2, 1, 1, 1, 99999);
    send(f, &m);
    assert_int_equal(last_error(f), UBC_ERR_INFEASIBLE);
    m = job_msg(3, 1, 17, 1, 100); /* 17 replicas > 16 per job */
    send(f, &m);
    assert_int_equal(last_error(f), UBC_ERR_MALFORMED);
    m = job_msg(4, 1, 1, 1, 100);
    send(f, &m);
    send(f, &m);
    assert_int_equal(last_error(f), UBC_ERR_DUPLICATE);
    for (uint64_t id = 10; id < 17; id++) {
        m = job_msg(id, 1, 1, 1, 100);
        send(f, &m);
    }
    m = job_msg(20, 1, 1, 1, 100); /* owner 1 has 8 live jobs: quota */
    send(f, &m);
    assert_int_equal(last_error(f), UBC_ERR_QUOTA);
    for (uint64_t id = 30; id < 38; id++) {
        m = job_msg(id, 2, 1, 1, 100);
        send(f, &m);
    }
    m = job_msg(40, 3, 1, 1, 100); /* 16 waiting: queue full */
    send(f, &m);
    assert_int_equal(last_error(f), UBC_ERR_QUEUE_FULL);
    m = (struct ubc_msg){ .hdr = { .type = UBC_MSG_JOB_QUERY } };
    m.u.job_ref.job_id = 999;
    send(f, &m);
    assert_int_equal(last_error(f), UBC_ERR_UNKNOWN_JOB);
    m.hdr.type = UBC_MSG_JOB_CANCEL;
    m.u.job_ref.job_id = 4; /* owner key differs */
    send(f, &m);
    assert_int_equal(last_error(f), UBC_ERR_AUTH);
    m = (struct ubc_msg){ .hdr = { .type = 99, .peer = 3 } };
    send(f, &m);
    assert_int_equal(last_error(f), UBC_ERR_UNKNOWN_TYPE);
    struct ubc_sched_stats st;
    ubc_sched_stats_read(f->s, &st);
    assert_int_equal(st.refusals[UBC_ERR_QUOTA], 1);
    assert_int_equal(st.refusals[UBC_ERR_QUEUE_FULL], 1);
    assert_int_equal(st.queue_depth[0], 16);
    fixture_free(f);
}

static void
test_out_full_changes_nothing(void **state)
{
    (void)state;
    struct fixture *f = fixture_make(NULL);
    f->out.capacity = ubc_sched_out_room_min(f->s) - 1;
    struct ubc_msg m = job_msg(5, 1, 1, 1, 100);
    assert_int_equal(ubc_sched_handle(f->s, &m, f->now, &f->out), UBC_ERR_OVERLOADED);
    assert_int_equal(f->out.count, 0);
    struct ubc_sched_job_summary sum;
    assert_int_equal(ubc_sched_job_get(f->s, 5, &sum), UBC_ERR_UNKNOWN_JOB);
    f->out.capacity = OUT_MAX;
    send(f, &m);
    assert_int_equal(ubc_sched_job_get(f->s, 5, &sum), UBC_OK);
    fixture_free(f);
}

/* A job that cannot be placed is parked; the jobs behind it still run. */
static void
test_no_head_of_line_blocking(void **state)
{
    (void)state;
    struct fixture *f = fixture_make(NULL);
    provider(f, 1, 1, 4000, 10);
    provider(f, 2, 2, 4000, 10);
    struct ubc_msg big = job_msg(1, 1, 3, 1, 3000); /* needs 3 x 3000: only 2 fit */
    send(f, &big);
    struct ubc_msg small = job_msg(2, 1, 1, 1, 500);
    send(f, &small);
    f->out.count = 0;
    ubc_sched_tick(f->s, f->now, &f->out);
    assert_int_equal(job_state(f, 1), UBC_JOB_PENDING);
    assert_int_equal(job_state(f, 2), UBC_JOB_ASSIGNED);
    assert_int_equal(count_type(f, UBC_MSG_ASSIGNMENT, 0), 1);
    struct ubc_sched_stats st;
    ubc_sched_stats_read(f->s, &st);
    assert_int_equal(st.placement_failures[UBC_PLACE_NO_CAPACITY], 1);
    /* all or nothing: nothing of the big gang holds capacity */
    struct ubc_sched_provider_summary ps;
    ubc_sched_provider_get(f->s, 1, &ps);
    uint32_t free1 = ps.free.cpu_millis;
    ubc_sched_provider_get(f->s, 2, &ps);
    assert_int_equal(free1 + ps.free.cpu_millis, 8000 - 500);
    provider(f, 3, 3, 4000, 10); /* capacity arrives: the parked job runs */
    f->now += 2 * MS;
    f->out.count = 0;
    ubc_sched_tick(f->s, f->now, &f->out);
    assert_int_equal(job_state(f, 1), UBC_JOB_ASSIGNED);
    fixture_free(f);
}

static void
test_failover_and_retries(void **state)
{
    (void)state;
    struct fixture *f = fixture_make(NULL);
    provider(f, 1, 1, 4000, 10);
    struct ubc_msg m = job_msg(9, 1, 1, 1, 1000);
    m.u.job_submit.max_retries = 1;
    send(f, &m);
    f->out.count = 0;
    ubc_sched_tick(f->s, f->now, &f->out);
    assert_int_equal(f->msgs[0].u.assignment.provider_id, 1);
    provider(f, 2, 2, 4000, 10);
    /* provider 1 goes silent; 2 keeps beating */
    for (int step = 1; step <= 20; step++) {
        f->now += 20 * MS;
        heartbeat(f, 2, 0);
        f->out.count = 0;
        ubc_sched_tick(f->s, f->now, &f->out);
        struct ubc_sched_provider_summary ps;
        ubc_sched_provider_get(f->s, 1, &ps);
        if (step == 5)
            assert_int_equal(ps.health, UBC_HEALTH_SUSPECT);
        if (step == 15) {
            assert_int_equal(ps.health, UBC_HEALTH_DOWN);
            assert_int_equal(ps.tasks, 0);
        }
    }
    struct ubc_sched_job_summary sum;
    ubc_sched_job_get(f->s, 9, &sum);
    assert_int_equal(sum.retries_used, 1);
    assert_int_equal(sum.state, UBC_JOB_RUNNING); /* provider 2's heartbeat confirmed it */
    struct ubc_sched_stats st;
    ubc_sched_stats_read(f->s, &st);
    assert_int_equal(st.failovers, 1);
    assert_int_equal(st.decisions, 2);
    /* a second failure exceeds max_retries = 1: failed, refunded */
    struct ubc_assignment a = { .job_id = 9, .provider_id = 2 };
    f->out.count = 0;
    result(f, &a, UBC_TASK_FAILED, 0);
    assert_int_equal(job_state(f, 9), UBC_JOB_FAILED);
    uint64_t sums[4];
    settle_sums(f, sums);
    assert_int_equal(sums[UBC_SETTLE_REFUND], 100);
    /* the late result of the dead provider is stale */
    a.provider_id = 1;
    result(f, &a, UBC_TASK_OK, 1);
    ubc_sched_stats_read(f->s, &st);
    assert_int_equal(st.results_stale, 1);
    /* provider 1 comes back */
    heartbeat(f, 1, 0);
    struct ubc_sched_provider_summary ps;
    ubc_sched_provider_get(f->s, 1, &ps);
    assert_int_equal(ps.health, UBC_HEALTH_UP);
    fixture_free(f);
}

static void
test_deadline_and_cancel(void **state)
{
    (void)state;
    struct fixture *f = fixture_make(NULL);
    provider(f, 1, 1, 4000, 10);
    provider(f, 2, 2, 4000, 10);
    struct ubc_msg m = job_msg(1, 1, 1, 1, 1000);
    m.u.job_submit.deadline_ns = 50 * MS;
    send(f, &m);
    m = job_msg(2, 1, 1, 2, 1000);
    m.u.job_submit.deadline_ns = 500 * MS;
    send(f, &m);
    ubc_sched_tick(f->s, f->now, &f->out);
    f->now += 60 * MS;
    heartbeat(f, 1, 0), heartbeat(f, 2, 0);
    f->out.count = 0;
    ubc_sched_tick(f->s, f->now, &f->out);
    assert_int_equal(job_state(f, 1), UBC_JOB_FAILED);
    assert_int_equal(count_type(f, UBC_MSG_ASSIGNMENT, UBC_SCHED_FLAG_REVOKE), 1);
    struct ubc_sched_job_summary sum;
    ubc_sched_job_get(f->s, 1, &sum);
    assert_int_equal(sum.error, UBC_ERR_DEADLINE);
    f->out.count = 0;
    struct ubc_msg cancel = { .hdr = { .type = UBC_MSG_JOB_CANCEL } };
    cancel.u.job_ref.job_id = 2;
    cancel.u.job_ref.owner[0] = 1;
    send(f, &cancel);
    assert_int_equal(job_state(f, 2), UBC_JOB_CANCELLED);
    assert_int_equal(count_type(f, UBC_MSG_ASSIGNMENT, UBC_SCHED_FLAG_REVOKE), 2);
    uint64_t sums[4];
    settle_sums(f, sums);
    assert_int_equal(sums[UBC_SETTLE_REFUND], 200);
    struct ubc_sched_provider_summary ps;
    ubc_sched_provider_get(f->s, 1, &ps);
    assert_int_equal(ps.free.cpu_millis, 4000);
    fixture_free(f);
}

static void
preempt_class0(struct ubc_sched_config *c)
{
    c->class_preempt[0] = 1;
}

static void
test_preemption(void **state)
{
    (void)state;
    struct fixture *f = fixture_make(preempt_class0);
    provider(f, 1, 1, 4000, 10);
    struct ubc_msg low = job_msg(1, 1, 1, 1, 3000);
    low.u.job_submit.qos_class = 7;
    send(f, &low);
    ubc_sched_tick(f->s, f->now, &f->out);
    assert_int_equal(job_state(f, 1), UBC_JOB_ASSIGNED);
    struct ubc_msg high = job_msg(2, 2, 1, 1, 3000);
    send(f, &high);
    f->out.count = 0;
    ubc_sched_tick(f->s, f->now, &f->out);
    assert_int_equal(job_state(f, 2), UBC_JOB_ASSIGNED);
    assert_int_equal(job_state(f, 1), UBC_JOB_PENDING);
    assert_int_equal(count_type(f, UBC_MSG_ASSIGNMENT, UBC_SCHED_FLAG_REVOKE), 1);
    struct ubc_sched_stats st;
    ubc_sched_stats_read(f->s, &st);
    assert_int_equal(st.preemptions, 1);
    fixture_free(f);
}

static void
test_mismatch_and_drain(void **state)
{
    (void)state;
    struct fixture *f = fixture_make(NULL);
    provider(f, 1, 1, 4000, 10);
    provider(f, 2, 2, 4000, 10);
    provider(f, 3, 3, 4000, 10);
    assert_int_equal(ubc_sched_drain(f->s, 3, 1), UBC_OK);
    assert_int_equal(ubc_sched_drain(f->s, 33, 1), UBC_ERR_UNKNOWN_PROVIDER);
    struct ubc_msg m = job_msg(1, 1, 1, 2, 1000);
    send(f, &m);
    f->out.count = 0;
    ubc_sched_tick(f->s, f->now, &f->out);
    struct ubc_assignment a0 = f->msgs[0].u.assignment, a1 = f->msgs[1].u.assignment;
    assert_true(a0.provider_id != 3 && a1.provider_id != 3);
    f->out.count = 0;
    result(f, &a0, UBC_TASK_OK, 1);
    result(f, &a1, UBC_TASK_OK, 2);
    assert_int_equal(job_state(f, 1), UBC_JOB_FAILED);
    uint64_t sums[4];
    settle_sums(f, sums);
    assert_int_equal(sums[UBC_SETTLE_RELEASE], 0);
    assert_int_equal(sums[UBC_SETTLE_REFUND], 200);
    struct ubc_sched_provider_summary ps;
    ubc_sched_provider_get(f->s, 1, &ps);
    assert_true(ps.reputation < 32768);
    /* undrain: provider 3 takes work again */
    assert_int_equal(ubc_sched_drain(f->s, 3, 0), UBC_OK);
    ubc_sched_drain(f->s, 1, 1);
    ubc_sched_drain(f->s, 2, 1);
    m = job_msg(2, 1, 1, 1, 1000);
    send(f, &m);
    f->out.count = 0;
    ubc_sched_tick(f->s, f->now, &f->out);
    assert_int_equal(f->msgs[0].u.assignment.provider_id, 3);
    struct ubc_sched_job_filter filter = { .state_mask = 1u << UBC_JOB_FAILED, .qos_class = -1 };
    struct ubc_sched_job_summary list[8];
    uint32_t cursor = 0;
    assert_int_equal(ubc_sched_jobs_list(f->s, &filter, &cursor, list, 8), 1);
    assert_int_equal(list[0].job_id, 1);
    struct ubc_sched_provider_filter pf = { .health_mask = 1u << UBC_HEALTH_DRAINING,
                                            .region = -1 };
    struct ubc_sched_provider_summary plist[8];
    cursor = 0;
    assert_int_equal(ubc_sched_providers_list(f->s, &pf, &cursor, plist, 8), 2);
    fixture_free(f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lifecycle_validated),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_out_full_changes_nothing),
        cmocka_unit_test(test_no_head_of_line_blocking),
        cmocka_unit_test(test_failover_and_retries),
        cmocka_unit_test(test_deadline_and_cancel),
        cmocka_unit_test(test_preemption),
        cmocka_unit_test(test_mismatch_and_drain),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
