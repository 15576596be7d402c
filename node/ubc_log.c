/* ubc_log.c: rte_log types per module (see ubc_log.h). */
#include "node/ubc_log.h"

#include <string.h>

#include "common/ubc_assert.h"

int ubc_log_types[UBC_LOG_MODULE_COUNT];

static const char *const module_names[UBC_LOG_MODULE_COUNT] = {
    "net", "sched", "ledger", "consensus", "disk", "node", "control",
};

static const char *const level_names[] = {
    [RTE_LOG_EMERG] = "emerg", [RTE_LOG_ALERT] = "alert",     [RTE_LOG_CRIT] = "crit",
    [RTE_LOG_ERR] = "err",     [RTE_LOG_WARNING] = "warning", [RTE_LOG_NOTICE] = "notice",
    [RTE_LOG_INFO] = "info",   [RTE_LOG_DEBUG] = "debug",
};

const char *
ubc_log_module_name(enum ubc_log_module module)
{
    return (unsigned)module < UBC_LOG_MODULE_COUNT ? module_names[module] : "?";
}

uint32_t
ubc_log_level_parse(const char *name)
{
    for (uint32_t level = RTE_LOG_EMERG; level <= RTE_LOG_DEBUG; level++) {
        if (strcmp(name, level_names[level]) == 0)
            return level;
    }
    return 0;
}

const char *
ubc_log_level_name(uint32_t level)
{
    if (level < RTE_LOG_EMERG || level > RTE_LOG_DEBUG)
        return "unknown";
    return level_names[level];
}

void
ubc_log_init(uint32_t level)
{
    UBC_ASSERT(level >= RTE_LOG_EMERG && level <= RTE_LOG_DEBUG);
    for (int m = 0; m < UBC_LOG_MODULE_COUNT; m++) {
        char name[32];
        snprintf(name, sizeof(name), "ubc.%s", module_names[m]);
        int type = rte_log_register_type_and_pick_level(name, level);
        ubc_log_types[m] = type >= 0 ? type : RTE_LOGTYPE_USER1;
        rte_log_set_level(ubc_log_types[m], level);
    }
}
