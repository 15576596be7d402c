/* test_config.c: every config error names its source, line, key and reason;
 * the defaults, the embedded default and a printed config all load. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "node/ubc_config.h"

static char error[UBC_CONFIG_ERROR_MAX];

static int
load(struct ubc_config *config, const char *text)
{
    ubc_config_defaults(config);
    error[0] = '\0';
    int rc = ubc_config_load_string(config, text, "test.ini", error, sizeof(error));
    if (rc == 0)
        rc = ubc_config_finish(config, error, sizeof(error));
    return rc;
}

static void
test_defaults_and_embedded(void **state)
{
    (void)state;
    struct ubc_config config;
    assert_int_equal(load(&config, ubc_config_embedded), 0);
    assert_string_equal(config.net_port, "net_tap0");
    assert_string_equal(config.admin_socket, "var/ubcd.sock");
    assert_int_equal(config.net_udp_port, 7400);
    assert_int_equal(config.admin_socket_mode, 0660);
    assert_int_equal(config.net_ipv4_be, (uint32_t)htobe32(0xc6120002)); /* 198.18.0.2 */
    assert_int_equal(config.role_lcore[UBC_ROLE_NET], 1);
    assert_int_equal(config.role_lcore[UBC_ROLE_LEDGER], 0);
}

static void
test_values_parse(void **state)
{
    (void)state;
    struct ubc_config config;
    assert_int_equal(load(&config, "[net]\nrx_desc = 512\npromiscuous = off\n"
                                   "; a comment\n[roles]\nsched = 0\n[poll]\nbusy = yes\n"
                                   "[node]\nadmin_socket_mode = 0600\n"),
                     0);
    assert_int_equal(config.net_rx_desc, 512);
    assert_false(config.net_promiscuous);
    assert_true(config.poll_busy);
    assert_int_equal(config.role_lcore[UBC_ROLE_SCHED], 0);
    assert_int_equal(config.admin_socket_mode, 0600);
}

static void
test_unknown_key_names_line(void **state)
{
    (void)state;
    struct ubc_config config;
    assert_int_equal(load(&config, "[net]\nrx_desc = 512\n\nrx_dsec = 1\n"), -1);
    assert_string_equal(error, "test.ini:4: unknown key net.rx_dsec");
}

static void
test_out_of_range_names_range(void **state)
{
    (void)state;
    struct ubc_config config;
    assert_int_equal(load(&config, "[net]\nrx_desc = 99999\n"), -1);
    assert_string_equal(error, "test.ini:2: net.rx_desc = '99999': out of range (allowed "
                               "64..32768)");
    assert_int_equal(load(&config, "[net]\nudp_port = -5\n"), -1);
    assert_non_null(strstr(error, "expected a non-negative integer"));
    assert_int_equal(load(&config, "[net]\nudp_port = 12x\n"), -1);
    assert_non_null(strstr(error, "test.ini:2: net.udp_port"));
}

static void
test_bad_bool_and_syntax(void **state)
{
    (void)state;
    struct ubc_config config;
    assert_int_equal(load(&config, "[poll]\nbusy = maybe\n"), -1);
    assert_string_equal(error, "test.ini:2: poll.busy = 'maybe': expected true or false");
    assert_int_equal(load(&config, "[poll]\n\nthis line is not ini\n"), -1);
    assert_non_null(strstr(error, "test.ini:3: syntax error"));
    assert_int_equal(load(&config, "[node]\nadmin_socket_mode = 0999\n"), -1);
    assert_non_null(strstr(error, "octal"));
}

static void
test_cross_key_checks(void **state)
{
    (void)state;
    struct ubc_config config;
    assert_int_equal(load(&config, "[rings]\nlink_size = 1000\n"), -1);
    assert_string_equal(error, "config: rings.link_size: not a power of two");
    assert_int_equal(load(&config, "[net]\nipv4 = 300.1.1.1\n"), -1);
    assert_non_null(strstr(error, "net.ipv4"));
    assert_int_equal(load(&config, "[poll]\nsleep_us_min = 500\nsleep_us_max = 100\n"), -1);
    assert_non_null(strstr(error, "poll.sleep_us_min"));
    assert_int_equal(load(&config, "[ledger]\nguardian_key = 12ab\n"), -1);
    assert_string_equal(error, "config: ledger.guardian_key: expected 64 hex digits");
    assert_int_equal(load(&config, "[log]\nlevel = loud\n"), -1);
    assert_non_null(strstr(error, "log.level"));
    assert_int_equal(load(&config, "[net]\nmbuf_count = 100\n"), -1);
    assert_non_null(strstr(error, "net.mbuf_count"));
    char long_dir[600];
    memset(long_dir, 'a', sizeof(long_dir) - 1);
    long_dir[sizeof(long_dir) - 1] = '\0';
    char text[700];
    snprintf(text, sizeof(text), "[node]\ndata_dir = %s\n", long_dir);
    assert_int_equal(load(&config, text), -1);
    assert_string_equal(error, "test.ini:2: line longer than 198 bytes");
}

static void
test_set_overrides(void **state)
{
    (void)state;
    struct ubc_config config;
    ubc_config_defaults(&config);
    assert_int_equal(ubc_config_set(&config, "net.port=net_null0", error, sizeof(error)), 0);
    assert_string_equal(config.net_port, "net_null0");
    assert_int_equal(ubc_config_set(&config, "net.port", error, sizeof(error)), -1);
    assert_non_null(strstr(error, "expected section.key=value"));
    assert_int_equal(ubc_config_set(&config, "net.nope=1", error, sizeof(error)), -1);
    assert_string_equal(error, "command line:0: unknown key net.nope");
}

/* The printed effective config loads back to the same values. */
static void
test_print_round_trip(void **state)
{
    (void)state;
    struct ubc_config first, second;
    assert_int_equal(load(&first, "[net]\nrx_desc = 256\n[roles]\ndisk = 1\n"), 0);
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    assert_non_null(out);
    ubc_config_print(&first, out);
    fclose(out);
    assert_int_equal(load(&second, text), 0);
    free(text);
    assert_memory_equal(&first, &second, sizeof(first));
}

static void
test_file_errors(void **state)
{
    (void)state;
    struct ubc_config config;
    ubc_config_defaults(&config);
    assert_int_equal(ubc_config_load_file(&config, "/nonexistent/ubcd.ini", error, sizeof(error)),
                     -1);
    assert_non_null(strstr(error, "/nonexistent/ubcd.ini: cannot open"));
    char path[] = "/tmp/ubc-config-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "[net]\nburst_size = 0\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    assert_int_equal(ubc_config_load_file(&config, path, error, sizeof(error)), -1);
    unlink(path);
    assert_non_null(strstr(error, ":2: net.burst_size = '0': out of range"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_and_embedded),
        cmocka_unit_test(test_values_parse),
        cmocka_unit_test(test_unknown_key_names_line),
        cmocka_unit_test(test_out_of_range_names_range),
        cmocka_unit_test(test_bad_bool_and_syntax),
        cmocka_unit_test(test_cross_key_checks),
        cmocka_unit_test(test_set_overrides),
        cmocka_unit_test(test_print_round_trip),
        cmocka_unit_test(test_file_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
