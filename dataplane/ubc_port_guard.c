/* ubc_port_guard.c: the teardown handshake between a driver's control
 * thread and the net lcores (see .h). */
#include "dataplane/ubc_port_guard.h"

#include <elf.h>
#include <errno.h>
#include <link.h>
#include <string.h>
#include <sys/mman.h>
#include <stdio.h>
#include <unistd.h>

#include <rte_common.h>
#include <rte_cycles.h>
#include <rte_pause.h>

#include "common/ubc_assert.h"

/* Written at start-up (main thread, before any poller or driver thread uses
 * them), read by the hooks afterwards. */
static struct ubc_port_guard *guards[UBC_PORT_GUARDS_MAX];
static uint32_t guard_count;
static int (*real_close)(int);
static int (*real_munmap)(void *, size_t);
static void *(*real_mmap)(void *, size_t, int, int, int, off_t);

void
ubc_port_guard_init(struct ubc_port_guard *guard)
{
    UBC_ASSERT(guard != NULL);
    memset(guard, 0, sizeof(*guard));
}

struct ubc_port_guard_poller *
ubc_port_guard_poller_add(struct ubc_port_guard *guard)
{
    if (guard->poller_count >= UBC_PORT_GUARD_POLLERS_MAX)
        return NULL;
    struct ubc_port_guard_poller *poller = &guard->pollers[guard->poller_count];
    poller->epoch = 0;
    __atomic_store_n(&guard->poller_count, guard->poller_count + 1, __ATOMIC_RELEASE);
    return poller;
}

static void
guard_record_wait(struct ubc_port_guard *guard, bool waited, uint64_t wait_ns)
{
    __atomic_fetch_add(&guard->stats.grace_periods, 1, __ATOMIC_RELAXED);
    if (!waited)
        return;
    __atomic_fetch_add(&guard->stats.grace_waits, 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&guard->stats.grace_wait_ns_total, wait_ns, __ATOMIC_RELAXED);
    if (wait_ns > __atomic_load_n(&guard->stats.grace_wait_ns_max, __ATOMIC_RELAXED))
        __atomic_store_n(&guard->stats.grace_wait_ns_max, wait_ns, __ATOMIC_RELAXED);
}

/* Waits for one poller to leave the section it is in (if any). A poller is
 * at most one burst inside, unless the OS descheduled it: spin a little,
 * then sleep in 5 us steps (this is the interrupt thread; it may wait). */
static bool
guard_wait_poller(struct ubc_port_guard_poller *poller)
{
    uint64_t epoch = __atomic_load_n(&poller->epoch, __ATOMIC_SEQ_CST);
    if ((epoch & 1) == 0)
        return false;
    for (uint32_t spins = 0; __atomic_load_n(&poller->epoch, __ATOMIC_ACQUIRE) == epoch; spins++) {
        if (spins < 4096)
            rte_pause();
        else
            rte_delay_us_sleep(5);
    }
    return true;
}

void
ubc_port_guard_synchronize(void)
{
    /* Orders the driver's flag store (before the hook) before our loads of
     * the epochs: with the poller's seq_cst entry store, either we see it
     * inside, or its burst sees the flag. A locked read-modify-write is the
     * full barrier (a fence would do; TSan does not model fences). */
    static uint64_t barrier;
    __atomic_fetch_add(&barrier, 1, __ATOMIC_SEQ_CST);
    uint32_t count = __atomic_load_n(&guard_count, __ATOMIC_ACQUIRE);
    for (uint32_t g = 0; g < count; g++) {
        struct ubc_port_guard *guard = guards[g];
        uint64_t start = rte_rdtsc();
        bool waited = false;
        uint32_t pollers = __atomic_load_n(&guard->poller_count, __ATOMIC_ACQUIRE);
        for (uint32_t p = 0; p < pollers; p++)
            waited |= guard_wait_poller(&guard->pollers[p]);
        uint64_t hz = rte_get_tsc_hz();
        uint64_t wait_ns = hz ? (rte_rdtsc() - start) * 1000000000ull / hz : 0;
        guard_record_wait(guard, waited, wait_ns);
    }
}

static int
guard_close(int fd)
{
    ubc_port_guard_synchronize();
    return real_close(fd);
}

static int
guard_munmap(void *address, size_t length)
{
    uint32_t count = __atomic_load_n(&guard_count, __ATOMIC_ACQUIRE);
    for (uint32_t g = 0; g < count; g++) {
        /* The first unmap after a mapping is the link going down. */
        if (__atomic_exchange_n(&guards[g]->armed, 0, __ATOMIC_ACQ_REL) != 0)
            __atomic_fetch_add(&guards[g]->stats.link_downs, 1, __ATOMIC_RELAXED);
    }
    ubc_port_guard_synchronize();
    return real_munmap(address, length);
}

static void *
guard_mmap(void *address, size_t length, int protection, int flags, int fd, off_t offset)
{
    void *mapped = real_mmap(address, length, protection, flags, fd, offset);
    if (mapped != MAP_FAILED && (flags & MAP_SHARED) != 0) {
        uint32_t count = __atomic_load_n(&guard_count, __ATOMIC_ACQUIRE);
        for (uint32_t g = 0; g < count; g++)
            __atomic_store_n(&guards[g]->armed, 1, __ATOMIC_RELEASE);
    }
    return mapped;
}

struct hook_search {
    const char *library_part;
    char library[128];
    int patched;
    int rc;
};

/* Writes one GOT slot, lifting RELRO's write protection for the write. */
static int
hook_write_slot(void **slot, void *value, bool in_relro)
{
    long page_size = sysconf(_SC_PAGESIZE);
    uintptr_t page = (uintptr_t)slot & ~((uintptr_t)page_size - 1);
    if (in_relro && mprotect((void *)page, (size_t)page_size, PROT_READ | PROT_WRITE) != 0)
        return -errno;
    __atomic_store_n(slot, value, __ATOMIC_RELEASE);
    if (in_relro)
        mprotect((void *)page, (size_t)page_size, PROT_READ);
    return 0;
}

/* Our replacement for a symbol the driver imports, and where to keep the
 * original; NULL when we leave it alone. */
static void *
hook_for(const char *name, void ***original)
{
    if (strcmp(name, "close") == 0) {
        *original = (void **)&real_close;
        return (void *)guard_close;
    }
    if (strcmp(name, "munmap") == 0) {
        *original = (void **)&real_munmap;
        return (void *)guard_munmap;
    }
    if (strcmp(name, "mmap") == 0 || strcmp(name, "mmap64") == 0) {
        *original = (void **)&real_mmap;
        return (void *)guard_mmap;
    }
    return NULL;
}

struct hook_object {
    uintptr_t base;
    const Elf64_Sym *symbols;
    const char *strings;
    uintptr_t relro_start, relro_end;
};

static int
hook_relocations(const struct hook_object *object, const Elf64_Rela *rela, size_t bytes)
{
    int patched = 0;
    for (size_t i = 0; i < bytes / sizeof(*rela); i++) {
        uint32_t type = (uint32_t)ELF64_R_TYPE(rela[i].r_info);
        if (type != R_X86_64_JUMP_SLOT && type != R_X86_64_GLOB_DAT)
            continue;
        const char *name = object->strings + object->symbols[ELF64_R_SYM(rela[i].r_info)].st_name;
        void **original = NULL;
        void *hook = hook_for(name, &original);
        void **slot = (void **)(object->base + rela[i].r_offset);
        if (hook == NULL || *slot == hook)
            continue;
        if (*original == NULL)
            *original = *slot; /* BIND_NOW or already called: the libc function */
        if (*original != *slot)
            return -EEXIST; /* two different targets for one name: refuse */
        uintptr_t where = (uintptr_t)slot;
        int rc =
            hook_write_slot(slot, hook, where >= object->relro_start && where < object->relro_end);
        if (rc != 0)
            return rc;
        patched++;
    }
    return patched;
}

static uintptr_t
hook_address(const struct dl_phdr_info *info, uintptr_t value)
{
    /* glibc relocates .dynamic's pointers in place; other loaders may not. */
    return value < info->dlpi_addr ? value + info->dlpi_addr : value;
}

static int
hook_each_object(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    struct hook_search *search = data;
    if (info->dlpi_name == NULL || strstr(info->dlpi_name, search->library_part) == NULL)
        return 0;
    struct hook_object object = { .base = info->dlpi_addr };
    const Elf64_Dyn *dynamic = NULL;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const Elf64_Phdr *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_DYNAMIC)
            dynamic = (const Elf64_Dyn *)(info->dlpi_addr + ph->p_vaddr);
        if (ph->p_type == PT_GNU_RELRO) {
            object.relro_start = info->dlpi_addr + ph->p_vaddr;
            object.relro_end = object.relro_start + ph->p_memsz;
        }
    }
    if (dynamic == NULL)
        return 0;
    const Elf64_Rela *jmprel = NULL, *rela = NULL;
    size_t jmprel_bytes = 0, rela_bytes = 0;
    for (const Elf64_Dyn *d = dynamic; d->d_tag != DT_NULL; d++) {
        switch (d->d_tag) {
        case DT_SYMTAB: object.symbols = (const void *)hook_address(info, d->d_un.d_ptr); break;
        case DT_STRTAB: object.strings = (const void *)hook_address(info, d->d_un.d_ptr); break;
        case DT_JMPREL: jmprel = (const void *)hook_address(info, d->d_un.d_ptr); break;
        case DT_PLTRELSZ: jmprel_bytes = d->d_un.d_val; break;
        case DT_RELA: rela = (const void *)hook_address(info, d->d_un.d_ptr); break;
        case DT_RELASZ: rela_bytes = d->d_un.d_val; break;
        default: break;
        }
    }
    if (object.symbols == NULL || object.strings == NULL)
        return 0;
    int a = jmprel ? hook_relocations(&object, jmprel, jmprel_bytes) : 0;
    int b = (a >= 0 && rela) ? hook_relocations(&object, rela, rela_bytes) : 0;
    search->rc = a < 0 ? a : b < 0 ? b : 0;
    search->patched += (a > 0 ? a : 0) + (b > 0 ? b : 0);
    snprintf(search->library, sizeof(search->library), "%s", info->dlpi_name);
    return 1;
}

void
ubc_port_guard_release(struct ubc_port_guard *guard)
{
    for (uint32_t g = 0; g < guard_count; g++) {
        if (guards[g] != guard)
            continue;
        guards[g] = guards[guard_count - 1];
        __atomic_store_n(&guard_count, guard_count - 1, __ATOMIC_RELEASE);
        break;
    }
    guard->hooked = false;
}

int
ubc_port_guard_register(struct ubc_port_guard *guard)
{
    UBC_ASSERT(guard != NULL);
    for (uint32_t g = 0; g < guard_count; g++) {
        if (guards[g] == guard)
            return 0;
    }
    if (guard_count >= UBC_PORT_GUARDS_MAX)
        return -ENOSPC;
    guards[guard_count] = guard;
    __atomic_store_n(&guard_count, guard_count + 1, __ATOMIC_RELEASE);
    return 0;
}

int
ubc_port_guard_hook(struct ubc_port_guard *guard, const char *library_part)
{
    UBC_ASSERT(guard != NULL && library_part != NULL);
    int rc = ubc_port_guard_register(guard);
    if (rc != 0)
        return rc;
    struct hook_search search = { .library_part = library_part, .rc = -ENOENT };
    dl_iterate_phdr(hook_each_object, &search);
    if (search.rc == 0 && (real_close == NULL || real_munmap == NULL))
        search.rc = -ENOENT; /* the object does not tear anything down through libc */
    if (search.rc != 0) {
        ubc_port_guard_release(guard);
        return search.rc;
    }
    guard->hooked = true;
    snprintf(guard->library, sizeof(guard->library), "%s", search.library);
    return 0;
}
