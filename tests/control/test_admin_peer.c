/* test_admin_peer.c: access control by peer credentials and file mode. A
 * child process drops to uid/gid 65534 (nobody/nogroup) and connects; the
 * test needs root for that and exits 77 (skipped) otherwise. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <grp.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/ubc_time.h"
#include "control/ubc_admin.h"
#include "control/ubc_admin_client.h"

#define NOBODY 65534u

enum child_result {
    CHILD_OK = 0,      /* ok:true reply */
    CHILD_DENIED = 10, /* error reply "denied" */
    CHILD_EACCES = 11, /* connect refused by the file mode */
    CHILD_OTHER = 12,
};

static int
child_call(const char *path)
{
    if (setgroups(0, NULL) != 0 || setgid(NOBODY) != 0 || setuid(NOBODY) != 0)
        return CHILD_OTHER;
    char *line = NULL;
    long length = ubc_admin_client_call(path, "{\"cmd\":\"version\"}", &line,
                                        ubc_time_monotonic_ns() + 5000000000ull);
    if (length == -EACCES)
        return CHILD_EACCES;
    if (length < 0)
        return CHILD_OTHER;
    json_t *reply = json_loads(line, 0, NULL);
    free(line);
    const char *code = json_string_value(json_object_get(json_object_get(reply, "error"), "code"));
    int result = json_is_true(json_object_get(reply, "ok"))      ? CHILD_OK
                 : (code != NULL && strcmp(code, "denied") == 0) ? CHILD_DENIED
                                                                 : CHILD_OTHER;
    json_decref(reply);
    return result;
}

/* The last audit event; the control thread writes it before the child can
 * read its reply, and the test reads it after waitpid. */
static struct ubc_admin_audit last_audit;

static void
record_audit(void *ctx, const struct ubc_admin_audit *event)
{
    (void)ctx;
    last_audit = *event;
    last_audit.command = NULL;
}

/* Serves with config, runs a nobody child against it, returns its result. */
static int
run_as_nobody(struct ubc_admin_config *config)
{
    char dir[] = "/tmp/ubc-admin-peer-XXXXXX";
    assert_non_null(mkdtemp(dir));
    assert_int_equal(chmod(dir, 0755), 0); /* let nobody reach the socket */
    char path[128];
    snprintf(path, sizeof(path), "%s/admin.sock", dir);
    config->socket_path = path;
    config->audit_fn = record_audit;
    memset(&last_audit, 0, sizeof(last_audit));
    struct ubc_admin *admin = ubc_admin_create(config);
    assert_non_null(admin);
    assert_int_equal(ubc_admin_start(admin), 0);
    fflush(NULL);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0)
        _exit(child_call(path));
    int status = 0;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status));
    ubc_admin_destroy(admin);
    rmdir(dir);
    return WEXITSTATUS(status);
}

static void
test_denied_peer(void **state)
{
    (void)state;
    struct ubc_admin_config config = { .socket_mode = 0666 };
    assert_int_equal(run_as_nobody(&config), CHILD_DENIED);
    assert_int_equal(last_audit.code, UBC_ADMIN_ERR_DENIED);
    assert_int_equal(last_audit.uid, NOBODY);
    assert_true(last_audit.pid > 0);
}

static void
test_mode_refuses_peer(void **state)
{
    (void)state;
    struct ubc_admin_config config = { .socket_mode = 0600, .allowed_uid_count = 1 };
    config.allowed_uids[0] = NOBODY; /* allowed, but the file mode stops it first */
    assert_int_equal(run_as_nobody(&config), CHILD_EACCES);
}

static void
test_allowed_uid(void **state)
{
    (void)state;
    struct ubc_admin_config config = { .socket_mode = 0666, .allowed_uid_count = 2 };
    config.allowed_uids[0] = 1000;
    config.allowed_uids[1] = NOBODY;
    assert_int_equal(run_as_nobody(&config), CHILD_OK);
}

static void
test_allowed_gid(void **state)
{
    (void)state;
    struct ubc_admin_config config = { .socket_mode = 0666, .allowed_gid_count = 1 };
    config.allowed_gids[0] = NOBODY;
    assert_int_equal(run_as_nobody(&config), CHILD_OK);
}

int
main(void)
{
    if (geteuid() != 0) {
        fprintf(stderr, "test_admin_peer: needs root to switch uid; skipped\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_denied_peer),
        cmocka_unit_test(test_mode_refuses_peer),
        cmocka_unit_test(test_allowed_uid),
        cmocka_unit_test(test_allowed_gid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
