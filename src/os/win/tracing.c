/*
 * Who else writes code. Windows has no uprobes; a debugger is seen by the
 * process itself (IsDebuggerPresent), which is the only target this
 * backend checks.
 */
#include "win.h"

bool psum_os_traced(psum_os_target *t)
{
    (void)t;
    return IsDebuggerPresent() != 0;
}

bool psum_os_uprobe_in(uint64_t dev, uint64_t ino, uint64_t offset, uint64_t len)
{
    (void)dev;
    (void)ino;
    (void)offset;
    (void)len;
    return false;
}
