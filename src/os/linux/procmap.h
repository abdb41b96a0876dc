/*
 * Listing a Linux process's mappings through PROCMAP_QUERY (procmap.c), for
 * regions.c; the text of /proc/PID/maps is the fallback. Exposed so that
 * tests can compare the two.
 */
#ifndef PSUM_LINUX_PROCMAP_H
#define PSUM_LINUX_PROCMAP_H

#include <stdbool.h>

#include "../os.h"

/* A target's state for the ioctl: the ranges its last listing held, and whether the kernel has it. */
typedef struct psum_linux_procmap psum_linux_procmap;

/*
 * Fills list (cleared first) with every executable mapping of t and every
 * mapping that overlaps the ranges noted by psum_linux_procmap_note, in
 * address order, as the maps text would give them (path, kind, device,
 * inode, offset, protection; main_executable and a settled file_deleted
 * are left to the caller). *state is created on first use. PROCSUM_ENOSYS
 * where the kernel has no PROCMAP_QUERY (remembered: not asked again) or
 * where the mappings kept changing under the walk; other codes as for
 * /proc/PID/maps. On error the list is empty.
 */
int psum_linux_procmap_list(psum_os_target *t, psum_linux_procmap **state, psum_os_region_list *list);

/*
 * Notes what a listing of the target held (by either way), so that the
 * next listing through the ioctl shows what is mapped there then: the
 * executable regions of list and those that overlap what was noted
 * before. state may be NULL (nothing to note).
 */
int psum_linux_procmap_note(psum_linux_procmap *state, const psum_os_region_list *list);

/* False once the kernel said it has no PROCMAP_QUERY; true before it was asked (state NULL). */
bool psum_linux_procmap_may_work(const psum_linux_procmap *state);

/*
 * The state made ahead of the first listing (psum_os_target_open), so that
 * a listing in a forked child allocates nothing.
 */
int psum_linux_procmap_new(psum_linux_procmap **out);
/* Closes the descriptor kept for another process (its address space was replaced); state may be NULL. */
void psum_linux_procmap_forget(psum_linux_procmap *state);
void psum_linux_procmap_free(psum_linux_procmap *state);
/* Unmaps the state's tables and keeps the state (os.h: psum_os_target_abandon). */
void psum_linux_procmap_abandon(psum_linux_procmap *state);

#endif
