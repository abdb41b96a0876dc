/*
 * procsum watch on Windows: a console control handler (Ctrl+C, Ctrl+Break,
 * the console closing, logoff, shutdown) sets an event that the period's
 * wait also waits for. The handler runs on a thread of its own, so it only
 * sets the event; the main thread stops the checkers.
 */
#include "watch_os.h"

#include <errno.h>

static HANDLE stop_event;

unsigned long psum_watch_allow_descriptors(void)
{
    return 0; /* handles: no per-process limit that a watch would reach */
}

void psum_watch_lock_init(psum_watch_lock *l)
{
    InitializeSRWLock(l);
}

void psum_watch_lock_destroy(psum_watch_lock *l)
{
    (void)l; /* an SRW lock holds nothing to free */
}

void psum_watch_lock_take(psum_watch_lock *l)
{
    AcquireSRWLockExclusive(l);
}

void psum_watch_lock_release(psum_watch_lock *l)
{
    ReleaseSRWLockExclusive(l);
}

static BOOL WINAPI on_control(DWORD type)
{
    (void)type;
    SetEvent(stop_event);
    return TRUE; /* handled: the process is not ended here */
}

int psum_watch_catch_stops(void)
{
    stop_event = CreateEventW(NULL, TRUE, FALSE, NULL);
    if (!stop_event)
        return ENOMEM;
    if (!SetConsoleCtrlHandler(on_control, TRUE)) {
        CloseHandle(stop_event);
        stop_event = NULL;
        return EPERM;
    }
    return 0;
}

void psum_watch_release_stops(void)
{
    if (!stop_event)
        return;
    SetConsoleCtrlHandler(on_control, FALSE);
    CloseHandle(stop_event);
    stop_event = NULL;
}

bool psum_watch_wait(unsigned period_ms, psum_procevents *events,
                     void (*on)(void *ctx, psum_procevent event, long pid), void *ctx)
{
    (void)events; /* never open on Windows (procevents.h) */
    (void)on;
    (void)ctx;
    return WaitForSingleObject(stop_event, period_ms) == WAIT_OBJECT_0;
}
