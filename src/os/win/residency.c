/*
 * Page residency of a Windows process: the Valid bit of its working set.
 * Where the system will not say (Wine answers for the calling process
 * only), every page counts as resident, as os.h asks: residency never
 * fails a pass.
 */
#include "win.h"

#include <psapi.h>

#include "target.h"

#define PAGE 4096u

int psum_os_resident(psum_os_target *t, uintptr_t addr, size_t npages, bool *resident)
{
    if (!t || (npages && !resident) || addr % PAGE != 0)
        return PROCSUM_EINVAL;
    PSAPI_WORKING_SET_EX_INFORMATION info[64];
    for (size_t done = 0; done < npages;) {
        size_t n = npages - done < 64 ? npages - done : 64;
        for (size_t i = 0; i < n; i++) {
            info[i].VirtualAddress = (void *)(addr + (done + i) * PAGE);
            info[i].VirtualAttributes.Flags = 0;
        }
        if (!QueryWorkingSetEx(t->process, info, (DWORD)(n * sizeof(info[0])))) {
            if (psum_win_process_exited(t))
                return PROCSUM_ESRCH;
            for (size_t i = done; i < npages; i++)
                resident[i] = true;
            return 0;
        }
        for (size_t i = 0; i < n; i++)
            resident[done + i] = (info[i].VirtualAttributes.Flags & 1u) != 0; /* Valid */
        done += n;
    }
    return 0;
}
