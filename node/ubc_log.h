/* ubc_log.h: logging through rte_log, one log type per module
 * ("ubc.node", "ubc.net", "ubc.sched", ...), levels changeable at run time
 * with `ubcctl log-level`. Safe from any thread after ubc_log_init(). Hot
 * paths log only rare events (link changes, alarms), never per packet.
 */
#ifndef UBC_LOG_H
#define UBC_LOG_H

#include <rte_log.h>

enum ubc_log_module {
    UBC_LOG_NET = 0, /* the first five follow enum ubc_role_id */
    UBC_LOG_SCHED,
    UBC_LOG_LEDGER,
    UBC_LOG_CONSENSUS,
    UBC_LOG_DISK,
    UBC_LOG_NODE,
    UBC_LOG_CONTROL,
    UBC_LOG_MODULE_COUNT
};

extern int ubc_log_types[UBC_LOG_MODULE_COUNT];

/* Registers the log types at `level` (RTE_LOG_ERR..RTE_LOG_DEBUG). */
void ubc_log_init(uint32_t level);

/* Maps "err", "info", ... to RTE_LOG_*; returns 0 when unknown. */
uint32_t ubc_log_level_parse(const char *name);
const char *ubc_log_level_name(uint32_t level);
const char *ubc_log_module_name(enum ubc_log_module module);

#define UBC_LOG(level, module, fmt, ...)                                 \
    rte_log(RTE_LOG_##level, ubc_log_types[module], "ubc.%s: " fmt "\n", \
            ubc_log_module_name(module), ##__VA_ARGS__)

#endif /* UBC_LOG_H */
