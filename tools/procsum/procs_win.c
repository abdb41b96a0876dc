/*
 * Windows: the process ids from EnumProcesses, the program of each from
 * QueryFullProcessImageNameW (as UTF-8). Ids 0 (the idle process) and 4
 * (System) have no user memory to check.
 */
#include "procs.h"

#ifndef _WIN32_WINNT
#define _WIN32_WINNT 0x0602
#endif
#ifndef PSAPI_VERSION
#define PSAPI_VERSION 2 /* EnumProcesses from kernel32 (K32EnumProcesses) */
#endif
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#include <psapi.h>
#include <tlhelp32.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define SYSTEM_PID 4
#define MAX_IDS (1u << 20)
#define MAX_PATH_CHARS 32768u

long psum_procs_self(void)
{
    return (long)GetCurrentProcessId();
}

int psum_procs_scan(const psum_config *cfg, psum_pid_list *out)
{
    (void)cfg; /* the Windows build reads no configuration file (main.c): no `process` globs */
    memset(out, 0, sizeof(*out));
    DWORD self = GetCurrentProcessId();
    for (DWORD cap = 1024; cap <= MAX_IDS; cap *= 2) {
        DWORD *ids = malloc(cap * sizeof(*ids));
        if (!ids)
            return ENOMEM;
        DWORD bytes = 0;
        if (!EnumProcesses(ids, cap * sizeof(*ids), &bytes)) {
            free(ids);
            return EIO;
        }
        DWORD n = bytes / sizeof(*ids);
        if (n == cap) { /* the list may have been cut: again, with more room */
            free(ids);
            continue;
        }
        int err = 0;
        for (DWORD i = 0; i < n && !err; i++)
            if (ids[i] != 0 && ids[i] != SYSTEM_PID && ids[i] != self)
                err = psum_pid_list_push(out, (long)ids[i]);
        free(ids);
        if (err) {
            psum_pid_list_free(out);
            return err;
        }
        psum_pid_list_sort(out);
        return 0;
    }
    return ENOMEM;
}

char *psum_proc_executable(long pid)
{
    if (pid <= 0 || (unsigned long)pid > 0xFFFFFFFFul)
        return NULL;
    HANDLE h = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, FALSE, (DWORD)pid);
    if (!h)
        return NULL;
    char *path = NULL;
    for (DWORD cap = MAX_PATH; cap <= MAX_PATH_CHARS && !path; cap *= 2) {
        wchar_t *w = malloc(cap * sizeof(*w));
        if (!w)
            break;
        DWORD n = cap;
        if (QueryFullProcessImageNameW(h, 0, w, &n)) {
            int len = WideCharToMultiByte(CP_UTF8, 0, w, (int)n + 1, NULL, 0, NULL, NULL);
            path = len > 0 ? malloc((size_t)len) : NULL;
            if (path && WideCharToMultiByte(CP_UTF8, 0, w, (int)n + 1, path, len, NULL, NULL) != len) {
                free(path);
                path = NULL;
            }
            free(w);
            break;
        }
        DWORD e = GetLastError();
        free(w);
        if (e != ERROR_INSUFFICIENT_BUFFER)
            break;
    }
    CloseHandle(h);
    return path;
}

/*
 * The image's file name: from its path where that can be read, else from the
 * system's process list, which needs no handle (a process that refuses one
 * has a name too) but lists every process, so it is the second way.
 */
char *psum_proc_name(long pid)
{
    char *exe = psum_proc_executable(pid);
    if (exe) {
        const char *slash = strrchr(exe, '\\');
        char *name = strdup(slash ? slash + 1 : exe);
        free(exe);
        return name;
    }
    HANDLE snap = CreateToolhelp32Snapshot(TH32CS_SNAPPROCESS, 0);
    if (snap == INVALID_HANDLE_VALUE)
        return NULL;
    char *name = NULL;
    PROCESSENTRY32W e = {.dwSize = sizeof(e)};
    for (BOOL ok = Process32FirstW(snap, &e); ok && !name; ok = Process32NextW(snap, &e)) {
        if ((long)e.th32ProcessID != pid)
            continue;
        int len = WideCharToMultiByte(CP_UTF8, 0, e.szExeFile, -1, NULL, 0, NULL, NULL);
        name = len > 1 ? malloc((size_t)len) : NULL;
        if (name && WideCharToMultiByte(CP_UTF8, 0, e.szExeFile, -1, name, len, NULL, NULL) != len) {
            free(name);
            name = NULL;
        }
        break;
    }
    CloseHandle(snap);
    return name;
}

long psum_proc_thread_group(long pid)
{
    (void)pid;
    return 0; /* thread ids are not process ids here: OpenProcess refuses them */
}

long psum_proc_reader(long pid)
{
    return pid; /* a process is a handle here, whichever of its threads ended */
}

bool psum_proc_kernel_thread(long pid)
{
    (void)pid;
    return false; /* the System process and its kind refuse to be opened: reported when checked */
}
