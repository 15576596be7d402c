/* bench_engine.c: the lifecycle engine driven in process by the synthetic
 * source. latency: submit-to-assign p50/p99/p99.9 in an open loop at 10%,
 * 50% and 90% of the capacity measured first in a closed loop (each job
 * carries its scheduled arrival time, so waiting for the loop counts).
 * failover: 100k running tasks; 1% of the providers fall silent; simulated
 * time from their last heartbeat until every task they held is re-placed,
 * and the CPU time the engine spent on it, against a scan of every task
 * record for the dead providers (what a scheduler without per-provider
 * task lists does per failover). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ubc_time.h"
#include "perf/scheduler/bench.h"
#include "scheduler/ubc_sched.h"
#include "scheduler/ubc_synth.h"

#define MS 1000000ull

struct rig {
    void *sched_mem;
    void *synth_mem;
    struct ubc_sched *s;
    struct ubc_synth *synth;
    struct ubc_sched_out out;
    double *latency;
    double *engine_latency; /* from the handle call, excluding waits for the loop */
    uint64_t *handled_ns;   /* by job id */
    uint64_t latency_count;
    uint64_t latency_max;
    uint64_t record_from_ns;
    uint64_t jobs_placed;
    int feed_results;
};

static void
rig_make(struct rig *rig, uint32_t providers, uint64_t job_interval_ns, uint32_t work_scale,
         uint64_t heartbeat_ns)
{
    struct ubc_sched_config c;
    ubc_sched_config_default(&c);
    c.max_jobs = 1u << 17, c.max_providers = providers, c.max_tasks = 1u << 19;
    c.queue_capacity = 1u << 15, c.max_owners = 4096, c.quota_jobs_per_owner = 1u << 16;
    c.heartbeat_suspect_ns = 250 * MS, c.heartbeat_down_ns = 500 * MS, c.retry_interval_ns = MS;
    struct ubc_synth_params p;
    ubc_synth_params_default(&p);
    p.provider_count = providers, p.operator_count = providers / 4 + 1, p.owner_count = 1000;
    p.results_max = 1u << 20, p.heartbeat_interval_ns = heartbeat_ns;
    p.job_interval_ns = job_interval_ns, p.work_scale_permille = work_scale;
    p.fail_permille = 0, p.mismatch_permille = 0;
    rig->sched_mem = bench_alloc(ubc_sched_footprint(&c));
    rig->synth_mem = bench_alloc(ubc_synth_footprint(&p));
    rig->s = ubc_sched_join(ubc_sched_new(rig->sched_mem, &c));
    rig->synth = ubc_synth_join(ubc_synth_new(rig->synth_mem, &p));
    if (rig->s == NULL || rig->synth == NULL)
        exit(1);
    uint32_t room = ubc_sched_out_room_tick(rig->s) * 4;
    rig->out = (struct ubc_sched_out){ .msgs = bench_alloc(room * sizeof(struct ubc_msg)),
                                       .capacity = room };
    rig->feed_results = 1;
}

static void
rig_free(struct rig *rig)
{
    if (getenv("UBC_BENCH_VERBOSE") != NULL) {
        struct ubc_sched_stats st;
        ubc_sched_stats_read(rig->s, &st);
        fprintf(stderr,
                "  engine: accepted %lu decisions %lu parked %lu fail cap %lu price %lu "
                "labels %lu affinity %lu preempt %lu refused queue %lu\n",
                (unsigned long)st.jobs_accepted, (unsigned long)st.decisions,
                (unsigned long)st.jobs_parked, (unsigned long)st.placement_failures[1],
                (unsigned long)st.placement_failures[2], (unsigned long)st.placement_failures[3],
                (unsigned long)st.placement_failures[4], (unsigned long)st.preemptions,
                (unsigned long)st.refusals[UBC_ERR_QUEUE_FULL]);
    }
    free(rig->out.msgs);
    free(ubc_sched_delete(rig->sched_mem));
    free(ubc_synth_delete(rig->synth_mem));
}

static void
rig_flush(struct rig *rig, uint64_t now)
{
    uint64_t done_ns = ubc_time_monotonic_ns();
    for (uint32_t i = 0; i < rig->out.count; i++) {
        const struct ubc_msg *m = &rig->out.msgs[i];
        if (m->hdr.type != UBC_MSG_ASSIGNMENT || m->hdr.flags != 0 ||
            m->u.assignment.task_index != 0 || m->u.assignment.replica != 0)
            continue;
        rig->jobs_placed++;
        uint64_t job_id = m->u.assignment.job_id;
        if (m->hdr.tsc >= rig->record_from_ns && rig->latency_count < rig->latency_max &&
            job_id < rig->latency_max) {
            rig->engine_latency[rig->latency_count] = (double)(done_ns - rig->handled_ns[job_id]);
            rig->latency[rig->latency_count++] = (double)(done_ns - m->hdr.tsc);
        }
    }
    if (rig->feed_results)
        ubc_synth_observe(rig->synth, rig->out.msgs, rig->out.count, now);
    rig->out.count = 0;
}

static void
rig_step(struct rig *rig, uint64_t now)
{
    struct ubc_msg in[64];
    uint32_t n = ubc_synth_poll(rig->synth, now, in, 64);
    uint64_t handled_ns = ubc_time_monotonic_ns();
    for (uint32_t i = 0; i < n; i++)
        if (in[i].hdr.type == UBC_MSG_JOB_SUBMIT && rig->handled_ns != NULL &&
            in[i].u.job_submit.job_id < rig->latency_max)
            rig->handled_ns[in[i].u.job_submit.job_id] = handled_ns;
    for (uint32_t i = 0; i < n; i++)
        while (ubc_sched_handle(rig->s, &in[i], now, &rig->out) == UBC_ERR_OVERLOADED)
            rig_flush(rig, now);
    ubc_sched_tick(rig->s, now, &rig->out);
    rig_flush(rig, now);
}

/* Runs in real time for duration_ns after warm_ns; returns jobs placed per s. */
static double
rig_run(struct rig *rig, uint64_t warm_ns, uint64_t duration_ns)
{
    uint64_t start = ubc_time_monotonic_ns();
    rig->record_from_ns = start + warm_ns;
    uint64_t now = start, placed_at_warm = 0;
    int warmed = 0;
    while (now < start + warm_ns + duration_ns) {
        rig_step(rig, now);
        now = ubc_time_monotonic_ns();
        if (!warmed && now >= rig->record_from_ns) {
            warmed = 1;
            placed_at_warm = rig->jobs_placed;
        }
    }
    return (double)(rig->jobs_placed - placed_at_warm) * 1e9 / (double)duration_ns;
}

static void
emit_latency(const char *metric, double value, double load, double rate, uint32_t samples)
{
    struct ubc_bench_result r = { .harness = "latency",
                                  .metric = metric,
                                  .value = value,
                                  .unit = "ns",
                                  .lower_is_better = 1,
                                  .samples = samples };
    ubc_bench_param_num(&r, "load_fraction", load);
    ubc_bench_param_num(&r, "offered_jobs_per_s", rate);
    ubc_bench_param_num(&r, "providers", 10000);
    ubc_bench_emit(&r);
}

int
bench_latency(int argc, char **argv)
{
    (void)argc, (void)argv;
    int quick = ubc_bench_quick();
    uint32_t providers = quick ? 1000 : 10000, samples = quick ? 1 : 5;
    uint64_t warm = quick ? 20 * MS : 100 * MS, duration = quick ? 100 * MS : 500 * MS;
    double capacity[8];
    for (uint32_t k = 0; k < samples; k++) {
        struct rig rig = { 0 };
        rig_make(&rig, providers, 1, 100, 100 * MS);
        capacity[k] = rig_run(&rig, warm, duration);
        rig_free(&rig);
    }
    double jobs_per_s = ubc_bench_median(capacity, samples);
    struct ubc_bench_result cap = { .harness = "latency",
                                    .metric = "capacity_jobs_per_s",
                                    .value = jobs_per_s,
                                    .unit = "ops/s",
                                    .samples = samples };
    ubc_bench_param_text(&cap, "loop", "closed");
    ubc_bench_emit(&cap);
    static const double loads[] = { 0.1, 0.5, 0.9 };
    for (uint32_t l = 0; l < 3; l++) {
        double p50[8], p99[8], p999[8], engine_p99[8], rate = jobs_per_s * loads[l];
        for (uint32_t k = 0; k < samples; k++) {
            struct rig rig = { .latency_max = 1u << 22 };
            rig.latency = bench_alloc(rig.latency_max * sizeof(double));
            rig.engine_latency = bench_alloc(rig.latency_max * sizeof(double));
            rig.handled_ns = bench_alloc(rig.latency_max * sizeof(uint64_t));
            rig_make(&rig, providers, (uint64_t)(1e9 / rate) + 1, 100, 100 * MS);
            rig_run(&rig, warm, duration);
            uint64_t n = rig.latency_count ? rig.latency_count : 1;
            p50[k] = ubc_bench_percentile(rig.latency, n, 50);
            p99[k] = ubc_bench_percentile(rig.latency, n, 99);
            p999[k] = ubc_bench_percentile(rig.latency, n, 99.9);
            engine_p99[k] = ubc_bench_percentile(rig.engine_latency, n, 99);
            free(rig.latency), free(rig.engine_latency), free(rig.handled_ns);
            rig_free(&rig);
        }
        emit_latency("submit_to_assign_p50", ubc_bench_median(p50, samples), loads[l], rate,
                     samples);
        emit_latency("submit_to_assign_p99", ubc_bench_median(p99, samples), loads[l], rate,
                     samples);
        emit_latency("submit_to_assign_p999", ubc_bench_median(p999, samples), loads[l], rate,
                     samples);
        emit_latency("handle_to_assign_p99", ubc_bench_median(engine_p99, samples), loads[l], rate,
                     samples);
    }
    return 0;
}

/* ---- failover ---- */

struct failover_sample {
    double total_ms; /* simulated: last heartbeat of a dead provider -> all re-placed */
    double cpu_us;   /* wall time of the steps that did failover work */
    double scan_us;  /* baseline: scan every task record for the dead providers */
    uint64_t tasks_moved;
};

static void
failover_fill(struct rig *rig, uint64_t now, uint32_t tasks, uint32_t *task_provider)
{
    for (uint32_t i = 0; i < tasks; i++) {
        struct ubc_msg m = { .hdr = { .type = UBC_MSG_JOB_SUBMIT, .peer = UBC_PEER_NONE } };
        struct ubc_job_submit *js = &m.u.job_submit;
        *js = (struct ubc_job_submit){ .job_id = i + 1u,
                                       .demand = { 500, 512, 0, 0 },
                                       .task_count = 1,
                                       .redundancy = 1,
                                       .max_retries = 10,
                                       .qos_class = (uint8_t)(i % 8),
                                       .bid_per_task = 1000 };
        uint32_t owner = i % 1000;
        memcpy(js->owner, &owner, sizeof(owner));
        while (ubc_sched_handle(rig->s, &m, now, &rig->out) == UBC_ERR_OVERLOADED)
            rig_flush(rig, now);
        if (i % 512 == 511 || i + 1 == tasks) {
            rig_flush(rig, now);
            for (int t = 0; t < 8; t++) {
                ubc_sched_tick(rig->s, now, &rig->out);
                for (uint32_t k = 0; k < rig->out.count; k++)
                    if (rig->out.msgs[k].hdr.type == UBC_MSG_ASSIGNMENT)
                        task_provider[rig->out.msgs[k].u.assignment.job_id - 1] =
                            (uint32_t)rig->out.msgs[k].u.assignment.provider_id;
                rig_flush(rig, now);
            }
        }
    }
}

static uint64_t
queue_depth(struct ubc_sched *s)
{
    struct ubc_sched_stats st;
    ubc_sched_stats_read(s, &st);
    uint64_t depth = 0;
    for (int c = 0; c < UBC_QOS_CLASSES; c++)
        depth += st.queue_depth[c];
    return depth;
}

static int
failover_done(struct rig *rig, uint32_t providers, uint32_t stride)
{
    if (queue_depth(rig->s) != 0)
        return 0;
    for (uint32_t id = 1; id <= providers; id += stride) {
        struct ubc_sched_provider_summary ps;
        ubc_sched_provider_get(rig->s, id, &ps);
        if (ps.health != UBC_HEALTH_DOWN || ps.tasks != 0)
            return 0;
    }
    return 1;
}

static double
failover_scan_baseline(const uint32_t *task_provider, uint32_t tasks, const uint8_t *dead)
{
    uint64_t start = ubc_time_monotonic_ns(), found = 0;
    for (uint32_t i = 0; i < tasks; i++)
        found += dead[task_provider[i]];
    uint64_t elapsed = ubc_time_monotonic_ns() - start;
    return found > 0 ? (double)elapsed / 1e3 : 0.0;
}

static struct failover_sample
failover_once(uint32_t providers, uint32_t tasks)
{
    struct rig rig = { 0 };
    rig_make(&rig, providers, 0, 1000, 100 * MS);
    rig.feed_results = 0; /* tasks run until failover */
    uint64_t now = 1000 * MS;
    for (uint32_t i = 0; i * 64 < providers + 64; i++)
        rig_step(&rig, now);
    uint32_t *task_provider = bench_alloc(tasks * sizeof(uint32_t));
    failover_fill(&rig, now, tasks, task_provider);
    for (int i = 0; i < 200; i++)
        rig_step(&rig, now += MS);
    uint32_t stride = 100;
    uint8_t *dead = bench_alloc(providers + 1u);
    uint64_t last_heartbeat = 0;
    for (uint32_t id = 1; id <= providers; id += stride) {
        ubc_synth_kill_provider(rig.synth, id);
        dead[id] = 1;
        struct ubc_sched_provider_summary ps;
        ubc_sched_provider_get(rig.s, id, &ps);
        last_heartbeat =
            ps.last_heartbeat_ns > last_heartbeat ? ps.last_heartbeat_ns : last_heartbeat;
    }
    struct ubc_sched_stats before, after;
    ubc_sched_stats_read(rig.s, &before);
    uint64_t cpu_ns = 0;
    while (!failover_done(&rig, providers, stride) && now < last_heartbeat + 10000 * MS) {
        uint64_t depth = queue_depth(rig.s), t0 = ubc_time_monotonic_ns();
        rig_step(&rig, now += MS);
        ubc_sched_stats_read(rig.s, &after);
        if (after.failovers != before.failovers || depth > 0 || queue_depth(rig.s) > 0)
            cpu_ns += ubc_time_monotonic_ns() - t0;
        before.failovers = after.failovers;
    }
    ubc_sched_stats_read(rig.s, &after);
    struct failover_sample sample = { .total_ms = (double)(now - last_heartbeat) / 1e6,
                                      .cpu_us = (double)cpu_ns / 1e3,
                                      .tasks_moved = after.tasks_requeued };
    sample.scan_us = failover_scan_baseline(task_provider, tasks, dead);
    free(task_provider), free(dead);
    rig_free(&rig);
    return sample;
}

int
bench_failover(int argc, char **argv)
{
    (void)argc, (void)argv;
    int quick = ubc_bench_quick();
    uint32_t providers = quick ? 2000 : 20000, tasks = quick ? 5000 : 100000;
    uint32_t samples = quick ? 1 : 5;
    double total[8], cpu[8], scan[8];
    uint64_t moved = 0;
    for (uint32_t k = 0; k < samples; k++) {
        struct failover_sample s = failover_once(providers, tasks);
        total[k] = s.total_ms, cpu[k] = s.cpu_us, scan[k] = s.scan_us;
        moved = s.tasks_moved;
    }
    struct ubc_bench_result r = { .harness = "failover",
                                  .metric = "last_heartbeat_to_replaced",
                                  .value = ubc_bench_median(total, samples),
                                  .unit = "ms",
                                  .lower_is_better = 1,
                                  .samples = samples };
    ubc_bench_param_num(&r, "running_tasks", tasks);
    ubc_bench_param_num(&r, "providers_failed", providers / 100);
    ubc_bench_param_num(&r, "tasks_moved", (double)moved);
    ubc_bench_param_num(&r, "down_timeout_ms", 500);
    ubc_bench_emit(&r);
    struct ubc_bench_result c = { .harness = "failover",
                                  .metric = "failover_cpu",
                                  .value = ubc_bench_median(cpu, samples),
                                  .unit = "us",
                                  .lower_is_better = 1,
                                  .samples = samples };
    /* No baseline ratio: scanning every task record (what a scheduler
     * without per-provider task lists pays just to find the victims) does
     * not re-place anything, so it is reported as a parameter only. */
    ubc_bench_param_num(&c, "scan_all_tasks_us", ubc_bench_median(scan, samples));
    ubc_bench_param_num(&c, "running_tasks", tasks);
    ubc_bench_param_num(&c, "tasks_moved", (double)moved);
    ubc_bench_emit(&c);
    return 0;
}
