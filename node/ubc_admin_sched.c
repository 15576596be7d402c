/* ubc_admin_sched.c: admin commands of the sched role: sched-stats, jobs,
 * providers, drain, undrain. Each posts a request to the sched role's
 * mailbox and renders the plain structs it answers with. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <rte_cycles.h>

#include "common/ubc_assert.h"
#include "node/ubc_admin_cmds.h"
#include "node/ubc_role_sched.h"

#define SCHED_CONTROL_TIMEOUT_MS 2000u

static const char *const health_names[] = { "up", "suspect", "down", "draining" };

static int
sched_call(struct ubc_node *node, uint32_t command, uint64_t argument,
           struct ubc_control_request **answer, char *error, size_t error_cap)
{
    int rc = ubc_node_control_call(node, UBC_ROLE_SCHED, command, argument, NULL, NULL, 0,
                                   SCHED_CONTROL_TIMEOUT_MS, answer);
    if (rc == -ETIMEDOUT || rc == -EBUSY)
        snprintf(error, error_cap, "the sched role did not answer in %u ms",
                 SCHED_CONTROL_TIMEOUT_MS);
    else if (rc == 0 && (*answer)->result != 0)
        rc = (*answer)->result;
    return rc;
}

static void
hex_key(const uint8_t *key, char *out)
{
    for (uint32_t i = 0; i < UBC_KEY_BYTES; i++)
        sprintf(out + 2 * i, "%02x", key[i]);
}

/* Collects a whole listing page by page (each page is one mailbox round
 * trip), rendering each entry with render; at most LIST_MAX entries. */
#define LIST_MAX 1000000u

static int
sched_list_all(struct ubc_node *node, uint32_t command, uint32_t mask, size_t entry_size,
               json_t *(*render)(const void *entry), json_t *list, char *error, size_t error_cap)
{
    uint32_t cursor = 0, total = 0;
    while (cursor != UINT32_MAX && total < LIST_MAX) {
        struct ubc_control_request *answer;
        int rc =
            sched_call(node, command, ((uint64_t)cursor << 32) | mask, &answer, error, error_cap);
        if (rc != 0)
            return rc;
        uint32_t count = answer->reply_len / (uint32_t)entry_size;
        for (uint32_t i = 0; i < count; i++)
            json_array_append_new(list, render(answer->reply + (size_t)i * entry_size));
        total += count;
        if (answer->argument == cursor && count == 0)
            break; /* no progress: never loop forever */
        cursor = answer->argument;
    }
    return 0;
}

static json_t *
job_json(const struct ubc_sched_job_summary *job)
{
    char owner[2 * UBC_KEY_BYTES + 1];
    hex_key(job->owner, owner);
    return json_pack("{s:I,s:s,s:s,s:i,s:i,s:i,s:i,s:i,s:I,s:I,s:i,s:s}", "job",
                     (json_int_t)job->job_id, "state", ubc_job_state_name(job->state), "owner",
                     owner, "class", job->qos_class, "tasks", job->task_count, "redundancy",
                     job->redundancy, "placed", job->replicas_placed, "done", job->replicas_done,
                     "bid_per_task", (json_int_t)job->bid_per_task, "submitted_ns",
                     (json_int_t)job->submitted_ns, "retries", job->retries_used, "error",
                     ubc_err_name(job->error));
}

static json_t *
job_entry_json(const void *entry)
{
    return job_json(entry);
}

static json_t *
provider_json(const struct ubc_sched_provider_summary *p)
{
    return json_pack("{s:I,s:I,s:s,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:f,s:I,s:I,s:b}", "provider",
                     (json_int_t)p->provider_id, "operator", (json_int_t)p->operator_id, "health",
                     p->health < 4 ? health_names[p->health] : "?", "region", p->region, "tasks",
                     p->tasks, "cpu_millis", p->capacity.cpu_millis, "cpu_millis_free",
                     p->free.cpu_millis, "mem_mib", p->capacity.mem_mib, "mem_mib_free",
                     p->free.mem_mib, "gpus", p->capacity.gpu_count, "reputation",
                     (double)p->reputation / 65536.0, "price_per_task",
                     (json_int_t)p->price_per_task, "stake", (json_int_t)p->stake, "admin_drained",
                     p->admin_drained);
}

static json_t *
provider_entry_json(const void *entry)
{
    return provider_json(entry);
}

/* Reads an unsigned id argument ("job", "provider") as number or string. */
static int
arg_id(const json_t *args, const char *key, uint64_t *id)
{
    const json_t *value = json_object_get(args, key);
    if (value == NULL)
        return 0;
    if (json_is_integer(value) && json_integer_value(value) >= 0) {
        *id = (uint64_t)json_integer_value(value);
        return 1;
    }
    return -1;
}

static int
arg_mask(const json_t *args, const char *key, const char *const *names, uint32_t count,
         uint32_t *mask)
{
    const char *text = json_string_value(json_object_get(args, key));
    *mask = 0;
    if (json_object_get(args, key) == NULL)
        return 0;
    for (uint32_t i = 0; text != NULL && i < count; i++) {
        if (strcmp(text, names[i]) == 0) {
            *mask = 1u << i;
            return 0;
        }
    }
    return -1;
}

static int
cmd_jobs(void *ctx, const json_t *args, json_t **result, char *error, size_t error_cap)
{
    static const char *const states[] = { "pending",   "assigned", "running",  "completed",
                                          "validated", "failed",   "cancelled" };
    struct ubc_node *node = ctx;
    struct ubc_control_request *answer;
    uint64_t id = 0;
    uint32_t mask = 0;
    int has_id = arg_id(args, "job", &id);
    if (has_id < 0 || arg_mask(args, "state", states, UBC_ARRAY_SIZE(states), &mask) < 0) {
        snprintf(error, error_cap,
                 "expected job=ID or state=pending|assigned|running|"
                 "completed|validated|failed|cancelled");
        return -EINVAL;
    }
    if (!has_id) {
        json_t *list = json_array();
        int rc =
            sched_list_all(node, UBC_SCHED_COMMAND_JOBS, mask, sizeof(struct ubc_sched_job_summary),
                           job_entry_json, list, error, error_cap);
        if (rc != 0) {
            json_decref(list);
            return rc;
        }
        *result = list;
        return 0;
    }
    int rc = sched_call(node, UBC_SCHED_COMMAND_JOB, id, &answer, error, error_cap);
    if (rc == -ENOENT)
        snprintf(error, error_cap, "no job %" PRIu64, id);
    if (rc != 0)
        return rc;
    *result = job_json((const void *)answer->reply);
    return 0;
}

static int
cmd_providers(void *ctx, const json_t *args, json_t **result, char *error, size_t error_cap)
{
    struct ubc_node *node = ctx;
    struct ubc_control_request *answer;
    uint64_t id = 0;
    uint32_t mask = 0;
    int has_id = arg_id(args, "provider", &id);
    if (has_id < 0 || arg_mask(args, "health", health_names, 4, &mask) < 0) {
        snprintf(error, error_cap, "expected provider=ID or health=up|suspect|down|draining");
        return -EINVAL;
    }
    if (!has_id) {
        json_t *list = json_array();
        int rc = sched_list_all(node, UBC_SCHED_COMMAND_PROVIDERS, mask,
                                sizeof(struct ubc_sched_provider_summary), provider_entry_json,
                                list, error, error_cap);
        if (rc != 0) {
            json_decref(list);
            return rc;
        }
        *result = list;
        return 0;
    }
    int rc = sched_call(node, UBC_SCHED_COMMAND_PROVIDER, id, &answer, error, error_cap);
    if (rc == -ENOENT)
        snprintf(error, error_cap, "no provider %" PRIu64, id);
    if (rc != 0)
        return rc;
    *result = provider_json((const void *)answer->reply);
    return 0;
}

static int
drain_command(void *ctx, const json_t *args, json_t **result, char *error, size_t error_cap,
              uint32_t command)
{
    uint64_t id = 0;
    if (arg_id(args, "provider", &id) != 1) {
        snprintf(error, error_cap, "expected provider=ID");
        return -EINVAL;
    }
    struct ubc_control_request *answer;
    int rc = sched_call(ctx, command, id, &answer, error, error_cap);
    if (rc == -ENOENT)
        snprintf(error, error_cap, "no provider %" PRIu64, id);
    if (rc != 0)
        return rc;
    *result = json_pack("{s:I,s:b}", "provider", (json_int_t)id, "draining",
                        command == UBC_SCHED_COMMAND_DRAIN);
    return 0;
}

static int
cmd_drain(void *ctx, const json_t *args, json_t **result, char *error, size_t error_cap)
{
    return drain_command(ctx, args, result, error, error_cap, UBC_SCHED_COMMAND_DRAIN);
}

static int
cmd_undrain(void *ctx, const json_t *args, json_t **result, char *error, size_t error_cap)
{
    return drain_command(ctx, args, result, error, error_cap, UBC_SCHED_COMMAND_UNDRAIN);
}

static json_t *
counts_json(const uint64_t *counts, uint32_t count, const char *(*name)(uint32_t))
{
    json_t *object = json_object();
    for (uint32_t i = 0; i < count; i++) {
        if (counts[i] != 0)
            json_object_set_new(object, name(i), json_integer((json_int_t)counts[i]));
    }
    return object;
}

static const char *
err_name_of(uint32_t i)
{
    return ubc_err_name((enum ubc_err)i);
}

static const char *
place_reason_name_of(uint32_t i)
{
    return ubc_place_reason_name((enum ubc_place_reason)i);
}

static const char *
state_name_of(uint32_t i)
{
    return ubc_job_state_name((uint8_t)i);
}

/* decisions/s between two calls (since start for the first): the control
 * thread keeps the previous sample; handlers never run concurrently. */
static double
decisions_rate(const struct ubc_node *node, uint64_t decisions)
{
    static uint64_t last_decisions, last_tsc;
    uint64_t now = rte_rdtsc();
    uint64_t since = last_tsc ? last_tsc : node->start_tsc;
    uint64_t base = last_tsc ? last_decisions : 0;
    last_decisions = decisions;
    last_tsc = now;
    double seconds = (double)(now - since) / (double)node->tsc_hz;
    return seconds > 0 ? (double)(decisions - base) / seconds : 0.0;
}

static int
cmd_sched_stats(void *ctx, const json_t *args, json_t **result, char *error, size_t error_cap)
{
    (void)args;
    struct ubc_node *node = ctx;
    struct ubc_control_request *answer;
    int rc = sched_call(node, UBC_SCHED_COMMAND_STATS, 0, &answer, error, error_cap);
    if (rc != 0)
        return rc;
    struct ubc_sched_stats s;
    memcpy(&s, answer->reply, sizeof(s));
    json_t *depth = json_array();
    for (uint32_t c = 0; c < UBC_QOS_CLASSES; c++)
        json_array_append_new(depth, json_integer((json_int_t)s.queue_depth[c]));
    json_t *out = json_pack(
        "{s:o,s:o,s:I,s:f,s:I,s:I,s:o,s:o,s:I,s:I,s:I,s:I,s:I,s:I}", "queue_depth_by_class", depth,
        "jobs_by_state", counts_json(s.jobs_by_state, UBC_JOB_STATE_COUNT, state_name_of),
        "decisions", (json_int_t)s.decisions, "decisions_per_s", decisions_rate(node, s.decisions),
        "jobs_submitted", (json_int_t)s.jobs_submitted, "jobs_accepted",
        (json_int_t)s.jobs_accepted, "refusals",
        counts_json(s.refusals, UBC_ERR_COUNT, err_name_of), "placement_failures",
        counts_json(s.placement_failures, UBC_PLACE_REASON_COUNT, place_reason_name_of),
        "preemptions", (json_int_t)s.preemptions, "failovers", (json_int_t)s.failovers,
        "tasks_requeued", (json_int_t)s.tasks_requeued, "retries", (json_int_t)s.retries,
        "deadline_expired", (json_int_t)s.deadline_expired, "validation_mismatches",
        (json_int_t)s.validation_mismatches);
    json_object_set_new(
        out, "providers",
        json_pack("{s:I,s:I,s:I,s:I,s:I}", "total", (json_int_t)s.providers, "up",
                  (json_int_t)s.providers_up, "suspect", (json_int_t)s.providers_suspect, "down",
                  (json_int_t)s.providers_down, "draining", (json_int_t)s.providers_draining));
    json_object_set_new(out, "tasks_live", json_integer((json_int_t)s.tasks_live));
    json_object_set_new(out, "heartbeats", json_integer((json_int_t)s.heartbeats));
    json_object_set_new(out, "results", json_integer((json_int_t)s.results));
    json_object_set_new(out, "settlements", json_integer((json_int_t)s.settlements));
    json_object_set_new(out, "out_overloaded", json_integer((json_int_t)s.out_overloaded));
    *result = out;
    return 0;
}

static const struct ubc_admin_command sched_commands[] = {
    { "sched-stats", "",
      "scheduler: queue depth per class, decisions/s, refusals and placement "
      "failures by reason, preemptions, failovers",
      cmd_sched_stats },
    { "jobs", "[state=STATE] | job=ID", "lists jobs (optionally in one state) or shows one",
      cmd_jobs },
    { "providers", "[health=up|suspect|down|draining] | provider=ID",
      "lists providers or shows one", cmd_providers },
    { "drain", "provider=ID", "stops new placements on a provider; running work finishes",
      cmd_drain },
    { "undrain", "provider=ID", "lets a drained provider take work again", cmd_undrain },
};

const struct ubc_admin_command *
ubc_admin_sched_commands(uint32_t *count)
{
    *count = UBC_ARRAY_SIZE(sched_commands);
    return sched_commands;
}
