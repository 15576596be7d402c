/* test_client.c: ubc-client against a tiny UDP responder on 127.0.0.1 that
 * speaks the wire codec (suite 'integration'). The responder acks, refuses
 * with "overloaded" (to exercise backoff), refuses for funds, ignores a job
 * (to exercise timeouts), answers status queries, and plays the node for a
 * provider agent: assignments out, results (with their hash checked) in.
 * Usage: test_client PATH_TO_UBC_CLIENT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <poll.h>
#include <pthread.h>
#include <sodium.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dataplane/wire/ubc_wire.h"
#include "tests/dataplane/wire_samples.h"

#define JOB_OVERLOADED 7u   /* refused "overloaded" twice, then acked */
#define JOB_FUNDS 13u       /* refused: funds */
#define JOB_SILENT 666u     /* never answered */
#define ASSIGNMENT_JOB 500u /* jobs the responder assigns to a provider */

static const char *client_path;

struct responder {
    int fd;
    uint16_t port;
    pthread_t thread;
    atomic_bool stop;
    uint32_t assignments_to_send;
    /* Counters: written by the responder thread, read after it is joined. */
    uint32_t submits;
    uint32_t overloaded_sent;
    uint32_t retry_flags;
    uint32_t queries;
    uint32_t cancels;
    uint32_t registers;
    uint32_t heartbeats;
    uint32_t results;
    uint32_t results_hash_ok;
    uint32_t deregisters;
    uint32_t unexpected; /* of a type a client must not send */
    uint32_t malformed;
    bool revoke_last;         /* after the assignments, revoke the last one */
    uint32_t ledger_groups;   /* ledger-op datagrams */
    uint32_t ledger_records;  /* their records, main ops and cosigns */
    uint32_t ledger_retries;  /* ledger-ops with the RETRY flag */
    uint32_t ledger_overload; /* answer the first ones "overloaded" */
};

static void
responder_send(struct responder *r, const struct sockaddr_in *to, const struct ubc_msg *msg)
{
    const struct ubc_wire_origin origin = { .sender_id = 1, .session_id = 2 };
    uint8_t datagram[UBC_WIRE_DATAGRAM_MAX];
    size_t len = 0;
    /* cmocka's assertions must not run on this thread: UBC_ASSERT instead. */
    UBC_ASSERT(ubc_wire_encode(msg, &origin, datagram, sizeof(datagram), &len) == UBC_WIRE_OK);
    sendto(r->fd, datagram, len, 0, (const struct sockaddr *)to, sizeof(*to));
}

static void
responder_reply(struct responder *r, const struct sockaddr_in *to, const struct ubc_msg *request,
                uint16_t type, enum ubc_err error, uint64_t id)
{
    struct ubc_msg reply;
    ubc_wire_reply_init(&reply, type, request->hdr.seq, id, error,
                        type == UBC_MSG_JOB_STATUS ? 2 : 0, type == UBC_MSG_JOB_STATUS ? 1 : 0);
    responder_send(r, to, &reply);
}

static void
expected_hash(uint64_t job_id, uint16_t task_index, uint8_t hash[UBC_HASH_BYTES])
{
    uint8_t input[26] = { 'u', 'b', 'c', '-', 't', 'a', 's', 'k' };
    for (int i = 0; i < 8; i++)
        input[8 + i] = (uint8_t)(job_id >> (8 * i));
    input[16] = (uint8_t)task_index;
    input[17] = (uint8_t)(task_index >> 8);
    crypto_generichash(hash, UBC_HASH_BYTES, input, sizeof(input), NULL, 0);
}

static void
responder_assign(struct responder *r, const struct sockaddr_in *to, uint64_t provider_id)
{
    for (uint32_t i = 0; i < r->assignments_to_send; i++) {
        struct ubc_msg msg;
        memset(&msg, 0, sizeof(msg));
        msg.hdr.type = UBC_MSG_ASSIGNMENT;
        msg.u.assignment = (struct ubc_assignment){ .job_id = ASSIGNMENT_JOB + i,
                                                    .provider_id = provider_id,
                                                    .task_index = (uint16_t)i,
                                                    .qos_class = 1,
                                                    .price = 10,
                                                    .work_ms = 30 };
        responder_send(r, to, &msg);
        responder_send(r, to, &msg); /* a duplicate: the agent must run it once */
        if (r->revoke_last && i + 1 == r->assignments_to_send) {
            msg.hdr.flags = UBC_MSG_FLAG_REVOKE; /* withdrawn before it can finish */
            responder_send(r, to, &msg);
        }
    }
}

/* A ledger-op group: answered with a LEDGER_RESULT whose detail is the
 * number of records that arrived, so the test sees the group came whole. */
static void
responder_ledger_op(struct responder *r, const struct sockaddr_in *from,
                    const struct ubc_wire_header *header, const uint8_t *payload,
                    const struct ubc_msg *msg)
{
    struct ubc_wire_ledger_op ops[UBC_WIRE_LEDGER_GROUP_FIT];
    uint32_t count = 0;
    UBC_ASSERT(ubc_wire_ledger_group_decode(header, payload, ops, UBC_WIRE_LEDGER_GROUP_FIT,
                                            &count) == UBC_WIRE_OK);
    r->ledger_groups++;
    r->ledger_records += count;
    r->ledger_retries += (header->flags & UBC_WIRE_FLAG_RETRY) != 0;
    struct ubc_msg reply;
    if (r->ledger_overload > 0) {
        r->ledger_overload--;
        ubc_wire_reply_init(&reply, UBC_MSG_REFUSAL, msg->hdr.seq, 0, UBC_ERR_OVERLOADED, 0, 0);
    } else {
        ubc_wire_reply_init(&reply, UBC_MSG_LEDGER_RESULT, msg->hdr.seq, ops[0].nonce, UBC_OK, 0,
                            count);
    }
    responder_send(r, from, &reply);
}

static void
responder_task_result(struct responder *r, const struct sockaddr_in *from,
                      const struct ubc_msg *msg)
{
    uint8_t hash[UBC_HASH_BYTES];
    expected_hash(msg->u.task_result.job_id, msg->u.task_result.task_index, hash);
    r->results++;
    if (memcmp(hash, msg->u.task_result.result_hash, UBC_HASH_BYTES) == 0 &&
        msg->u.task_result.task_index == msg->u.task_result.job_id - ASSIGNMENT_JOB)
        r->results_hash_ok++;
    responder_reply(r, from, msg, UBC_MSG_ACK, UBC_OK, msg->u.task_result.job_id);
}

static void
responder_submit(struct responder *r, const struct sockaddr_in *from, const struct ubc_msg *msg)
{
    uint64_t job_id = msg->u.job_submit.job_id;
    r->submits++;
    if (job_id == JOB_SILENT)
        return;
    if (job_id == JOB_OVERLOADED && r->overloaded_sent < 2) {
        r->overloaded_sent++;
        responder_reply(r, from, msg, UBC_MSG_REFUSAL, UBC_ERR_OVERLOADED, job_id);
        return;
    }
    if (job_id == JOB_FUNDS) {
        responder_reply(r, from, msg, UBC_MSG_REFUSAL, UBC_ERR_FUNDS, job_id);
        return;
    }
    responder_reply(r, from, msg, UBC_MSG_ACK, UBC_OK, job_id);
}

static void
responder_handle(struct responder *r, const struct sockaddr_in *from, const struct ubc_msg *msg)
{
    switch (msg->hdr.type) {
    case UBC_MSG_JOB_SUBMIT: responder_submit(r, from, msg); break;
    case UBC_MSG_JOB_CANCEL:
        r->cancels++;
        responder_reply(r, from, msg, UBC_MSG_ACK, UBC_OK, msg->u.job_ref.job_id);
        break;
    case UBC_MSG_JOB_QUERY:
        r->queries++;
        responder_reply(r, from, msg, UBC_MSG_JOB_STATUS, UBC_OK, msg->u.job_ref.job_id);
        break;
    case UBC_MSG_PROVIDER_REGISTER:
        r->registers++;
        responder_reply(r, from, msg, UBC_MSG_ACK, UBC_OK, msg->u.provider_register.provider_id);
        responder_assign(r, from, msg->u.provider_register.provider_id);
        break;
    case UBC_MSG_PROVIDER_HEARTBEAT:
        r->heartbeats++;
        responder_reply(r, from, msg, UBC_MSG_ACK, UBC_OK, msg->u.heartbeat.provider_id);
        break;
    case UBC_MSG_PROVIDER_DEREGISTER:
        r->deregisters++;
        responder_reply(r, from, msg, UBC_MSG_ACK, UBC_OK, msg->u.heartbeat.provider_id);
        break;
    case UBC_MSG_TASK_RESULT: responder_task_result(r, from, msg); break;
    default: r->unexpected++; break;
    }
}

static void *
responder_main(void *arg)
{
    struct responder *r = arg;
    while (!atomic_load(&r->stop)) {
        struct pollfd pfd = { .fd = r->fd, .events = POLLIN };
        if (poll(&pfd, 1, 10) <= 0)
            continue;
        uint8_t datagram[2048];
        struct sockaddr_in from;
        socklen_t from_len = sizeof(from);
        ssize_t len =
            recvfrom(r->fd, datagram, sizeof(datagram), 0, (struct sockaddr *)&from, &from_len);
        if (len < 0)
            continue;
        const struct ubc_wire_policy policy = { .require_tag = false };
        struct ubc_wire_header header;
        struct ubc_msg msg;
        enum ubc_wire_result result =
            ubc_wire_decode(datagram, (size_t)len, &policy, &header, &msg);
        if (result != UBC_WIRE_OK) {
            /* What the node does: answer what deserves it, count the rest. */
            r->malformed++;
            if (ubc_wire_should_refuse(result, &header)) {
                struct ubc_msg refusal;
                ubc_wire_refusal_init(&refusal, result, &header);
                responder_send(r, &from, &refusal);
            }
            continue;
        }
        if (header.flags & UBC_WIRE_FLAG_RETRY)
            r->retry_flags++;
        if (msg.hdr.type == UBC_MSG_LEDGER_OP)
            responder_ledger_op(r, &from, &header, datagram + UBC_WIRE_HEADER_BYTES, &msg);
        else
            responder_handle(r, &from, &msg);
    }
    return NULL;
}

static void
responder_init(struct responder *r, uint32_t assignments)
{
    memset(r, 0, sizeof(*r));
    r->assignments_to_send = assignments;
    r->fd = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(r->fd >= 0);
    struct sockaddr_in address = { .sin_family = AF_INET };
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(r->fd, (struct sockaddr *)&address, sizeof(address)), 0);
    socklen_t len = sizeof(address);
    assert_int_equal(getsockname(r->fd, (struct sockaddr *)&address, &len), 0);
    r->port = ntohs(address.sin_port);
}

/* Starts the responder's thread: set its options between init and run. */
static void
responder_run(struct responder *r)
{
    assert_int_equal(pthread_create(&r->thread, NULL, responder_main, r), 0);
}

static void
responder_start(struct responder *r, uint32_t assignments)
{
    responder_init(r, assignments);
    responder_run(r);
}

static void
responder_stop(struct responder *r)
{
    atomic_store(&r->stop, true);
    assert_int_equal(pthread_join(r->thread, NULL), 0);
    close(r->fd);
    assert_int_equal(r->unexpected, 0);
}

/* Runs ubc-client with --node pointing at port and the given arguments;
 * returns its exit code and its stdout in output. */
static int
run_client(uint16_t port, char *output, size_t output_cap, const char *const *args)
{
    char node[32];
    snprintf(node, sizeof(node), "127.0.0.1:%u", port);
    const char *argv[32] = { client_path, "--node", node, "--timeout-ms", "100" };
    size_t argc = 5;
    for (size_t i = 0; args[i] != NULL; i++) {
        assert_true(argc < UBC_ARRAY_SIZE(argv) - 1);
        argv[argc++] = args[i];
    }
    argv[argc] = NULL;
    FILE *captured = tmpfile();
    assert_non_null(captured);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fileno(captured), STDOUT_FILENO);
    pid_t pid;
    assert_int_equal(posix_spawn(&pid, client_path, &actions, NULL, (char *const *)argv, environ),
                     0);
    posix_spawn_file_actions_destroy(&actions);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    rewind(captured);
    size_t len = fread(output, 1, output_cap - 1, captured);
    output[len] = '\0';
    fclose(captured);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

static size_t
count_lines_with(const char *text, const char *needle)
{
    size_t count = 0;
    for (const char *at = text; (at = strstr(at, needle)) != NULL; at += strlen(needle))
        count++;
    return count;
}

static void
test_submit_cancel_status(void **state)
{
    (void)state;
    struct responder r;
    responder_start(&r, 0);
    char out[8192];
    const char *submit[] = { "--json", "submit", "--job", "5", "--tasks", "2", NULL };
    assert_int_equal(run_client(r.port, out, sizeof(out), submit), 0);
    assert_non_null(strstr(out, "\"id\":5,\"result\":\"ack\""));
    const char *status[] = { "status", "--job", "5", NULL };
    assert_int_equal(run_client(r.port, out, sizeof(out), status), 0);
    assert_non_null(strstr(out, "state running (2), detail 1"));
    const char *cancel[] = { "cancel", "--job", "5", NULL };
    assert_int_equal(run_client(r.port, out, sizeof(out), cancel), 0);
    assert_non_null(strstr(out, "job-cancel 5: ack"));
    const char *funds[] = { "submit", "--job", "13", NULL };
    assert_int_equal(run_client(r.port, out, sizeof(out), funds), 1);
    assert_non_null(strstr(out, "refused: funds"));
    responder_stop(&r);
    assert_int_equal(r.submits, 2);
    assert_int_equal(r.queries, 1);
    assert_int_equal(r.cancels, 1);
}

static void
test_overload_backoff_and_timeout(void **state)
{
    (void)state;
    struct responder r;
    responder_start(&r, 0);
    char out[8192];
    const char *overloaded[] = { "--json", "--backoff-ms", "5", "submit", "--job", "7", NULL };
    assert_int_equal(run_client(r.port, out, sizeof(out), overloaded), 0);
    assert_non_null(strstr(out, "\"result\":\"ack\""));
    assert_non_null(strstr(out, "\"attempts\":3"));
    const char *silent[] = {
        "--retries", "2", "--backoff-ms", "1", "submit", "--job", "666", NULL
    };
    assert_int_equal(run_client(r.port, out, sizeof(out), silent), 3);
    assert_non_null(strstr(out, "timeout after 3 attempts"));
    responder_stop(&r);
    assert_int_equal(r.overloaded_sent, 2);
    assert_int_equal(r.submits, 3 + 3);
    assert_int_equal(r.retry_flags, 2 + 2); /* every retransmission is flagged */
}

static void
test_count_and_rate(void **state)
{
    (void)state;
    struct responder r;
    responder_start(&r, 0);
    char out[65536];
    const char *many[] = { "--json", "submit", "--job", "100", "--count",
                           "40",     "--rate", "2000",  NULL };
    assert_int_equal(run_client(r.port, out, sizeof(out), many), 0);
    assert_int_equal(count_lines_with(out, "\"result\":\"ack\""), 40);
    assert_non_null(strstr(out, "\"id\":139,"));
    const char *summary[] = {
        "--quiet", "--summary", "submit", "--job", "12", "--count", "3", NULL
    };
    assert_int_equal(run_client(r.port, out, sizeof(out), summary), 1); /* job 13: funds */
    assert_null(strstr(out, "job-submit 12"));                          /* --quiet */
    assert_non_null(strstr(out, "summary: 3 requests, 2 answered, 1 refused, 0 timed out"));
    assert_non_null(strstr(out, "refusals: funds=1"));
    responder_stop(&r);
    assert_int_equal(r.submits, 43);
}

static void
test_provider_agent(void **state)
{
    (void)state;
    struct responder r;
    responder_start(&r, 3);
    char out[16384];
    const char *provider[] = { "--json",         "provider", "--id",        "9",
                               "--heartbeat-ms", "20",       "--tasks-max", "3",
                               "--duration-s",   "5",        NULL };
    assert_int_equal(run_client(r.port, out, sizeof(out), provider), 0);
    assert_int_equal(count_lines_with(out, "\"event\":\"assignment\""), 3);
    assert_int_equal(count_lines_with(out, "\"event\":\"result\""), 3);
    assert_non_null(strstr(out, "\"results_acked\":3"));
    responder_stop(&r);
    assert_int_equal(r.registers, 1);
    assert_int_equal(r.results, 3);
    assert_int_equal(r.results_hash_ok, 3);
    assert_int_equal(r.deregisters, 1);
    assert_true(r.heartbeats >= 1);
}

/* A revocation stops the task: the agent reports no result for it. */
static void
test_provider_revocation(void **state)
{
    (void)state;
    struct responder r;
    responder_init(&r, 2);
    r.revoke_last = true;
    responder_run(&r);
    char out[16384];
    const char *provider[] = { "--json",         "provider", "--id",      "9",
                               "--heartbeat-ms", "20",       "--work-ms", "300",
                               "--duration-s",   "1",        NULL };
    assert_int_equal(run_client(r.port, out, sizeof(out), provider), 0);
    assert_int_equal(count_lines_with(out, "\"event\":\"assignment\""), 2);
    assert_int_equal(count_lines_with(out, "\"event\":\"revoked\""), 1);
    assert_non_null(strstr(out, "\"job\":501,\"task\":1,\"replica\":0,\"was_running\":true"));
    assert_int_equal(count_lines_with(out, "\"event\":\"result\""), 1);
    assert_non_null(strstr(out, "\"revoked\":1"));
    responder_stop(&r);
    assert_int_equal(r.results, 1);
}

/* ledger-op: the group goes out whole in one datagram, an "overloaded"
 * refusal is retried, and the result is printed. */
static void
test_ledger_op(void **state)
{
    (void)state;
    struct ubc_wire_ledger_op ops[3];
    ubc_wire_sample_ledger_op(&ops[0], 4);
    ops[0].cosign_count = 2;
    ubc_wire_sample_cosign(&ops[1], 1);
    ubc_wire_sample_cosign(&ops[2], 2);
    char hex[3][2 * UBC_WIRE_LEDGER_OP_BYTES + 1];
    for (int i = 0; i < 3; i++)
        for (size_t b = 0; b < UBC_WIRE_LEDGER_OP_BYTES; b++)
            snprintf(hex[i] + 2 * b, 3, "%02x", ((const uint8_t *)&ops[i])[b]);
    struct responder r;
    responder_init(&r, 0);
    r.ledger_overload = 1;
    responder_run(&r);
    char out[4096];
    const char *group[] = {
        "--json", "--backoff-ms", "1", "ledger-op", hex[0], hex[1], hex[2], NULL
    };
    assert_int_equal(run_client(r.port, out, sizeof(out), group), 0);
    assert_non_null(strstr(out, "\"result\":\"applied\""));
    assert_non_null(strstr(out, "\"height\":3")); /* the responder's detail: 3 records */
    assert_non_null(strstr(out, "\"attempts\":2"));
    /* A group whose main op announces the wrong number of cosigns: usage. */
    const char *short_group[] = { "ledger-op", hex[0], hex[1], NULL };
    assert_int_equal(run_client(r.port, out, sizeof(out), short_group), 2);
    const char *not_hex[] = { "ledger-op", "zz", NULL };
    assert_int_equal(run_client(r.port, out, sizeof(out), not_hex), 2);
    responder_stop(&r);
    assert_int_equal(r.ledger_groups, 2);
    assert_int_equal(r.ledger_records, 6);
    assert_int_equal(r.ledger_retries, 1);
}

static void
test_malformed(void **state)
{
    (void)state;
    struct responder r;
    responder_start(&r, 0);
    char out[8192];
    const char *malformed[] = { "--json", "--timeout-ms", "50", "malformed", NULL };
    assert_int_equal(run_client(r.port, out, sizeof(out), malformed), 0);
    assert_int_equal(count_lines_with(out, "\"ok\":true"), UBC_WIRE_RESULT_COUNT - 3);
    assert_non_null(strstr(out, "{\"malformed\":\"bad-version\",\"expected\":\"version\","
                                "\"got\":\"version\",\"ok\":true}"));
    assert_non_null(strstr(out, "{\"malformed\":\"bad-magic\",\"expected\":\"none\","
                                "\"got\":\"none\",\"ok\":true}"));
    responder_stop(&r);
    assert_int_equal(r.malformed, UBC_WIRE_RESULT_COUNT - 3);
}

static void
test_usage_errors(void **state)
{
    (void)state;
    char out[1024];
    const char *none[] = { NULL };
    assert_int_equal(run_client(9, out, sizeof(out), none), 2);
    const char *no_job[] = { "submit", NULL };
    assert_int_equal(run_client(9, out, sizeof(out), no_job), 2);
    const char *bad_qos[] = { "submit", "--job", "1", "--qos", "8", NULL };
    assert_int_equal(run_client(9, out, sizeof(out), bad_qos), 2);
    const char *bad_command[] = { "launch", NULL };
    assert_int_equal(run_client(9, out, sizeof(out), bad_command), 2);
    const char *bad_option[] = { "submit", "--job", "1", "--frobnicate", NULL };
    assert_int_equal(run_client(9, out, sizeof(out), bad_option), 2);
}

int
main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s PATH_TO_UBC_CLIENT\n", argv[0]);
        return 1;
    }
    client_path = argv[1];
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_submit_cancel_status),
        cmocka_unit_test(test_overload_backoff_and_timeout),
        cmocka_unit_test(test_count_and_rate),
        cmocka_unit_test(test_provider_agent),
        cmocka_unit_test(test_provider_revocation),
        cmocka_unit_test(test_ledger_op),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_usage_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
