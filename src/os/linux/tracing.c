/*
 * Who else writes code: a debugger attached with ptrace (TracerPid in
 * /proc/PID/status) and the kernel's uprobes. A uprobe registered through
 * the tracing file system is listed in its uprobe_events as
 * "p:GROUP/EVENT PATH:0xOFFSET[(0xREFCTR)] [ARGS]", with the file offset of
 * the probed instruction. Uprobes made with perf_event_open (BPF tools)
 * are not listed there; a process that has hit any uprobe has an
 * [uprobes] mapping, which the pass can see in its regions.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../os.h"
#include "target.h"
#include "tracing.h"

/* Reads a small /proc or tracefs file whole (at most cap - 1 bytes); -1 on failure. */
static ssize_t read_small(const char *path, char *buf, size_t cap)
{
    int fd;
    do
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return -1;
    size_t used = 0;
    while (used + 1 < cap) {
        ssize_t n = read(fd, buf + used, cap - 1 - used);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        used += (size_t)n;
    }
    close(fd);
    buf[used] = '\0';
    return (ssize_t)used;
}

bool psum_os_traced(psum_os_target *t)
{
    char path[64], buf[4096];
    long pid = t ? (long)psum_linux_target_real_pid(t) : 0;
    if (pid == 0)
        snprintf(path, sizeof(path), "/proc/self/status");
    else
        snprintf(path, sizeof(path), "/proc/%ld/status", pid);
    if (read_small(path, buf, sizeof(buf)) <= 0)
        return false;
    const char *line = strstr(buf, "\nTracerPid:");
    return line && strtol(line + strlen("\nTracerPid:"), NULL, 10) != 0;
}

bool psum_linux_uprobe_line_parse(const char *line, size_t len, char *path, size_t path_cap, uint64_t *offset)
{
    /* "p:" or "r:" and an event name, a space, then PATH:0xOFFSET. */
    if (len < 4 || (line[0] != 'p' && line[0] != 'r') || line[1] != ':' || path_cap == 0)
        return false;
    const char *end = line + len;
    const char *sp = memchr(line, ' ', len);
    if (!sp)
        return false;
    const char *spec = sp + 1;
    const char *spec_end = memchr(spec, ' ', (size_t)(end - spec));
    if (!spec_end)
        spec_end = end;
    /* The last ':' before the offset: paths may hold colons themselves. */
    const char *colon = NULL;
    for (const char *c = spec; c < spec_end; c++)
        if (*c == ':')
            colon = c;
    if (!colon || colon == spec || (size_t)(colon - spec) >= path_cap)
        return false;
    char *stop = NULL;
    errno = 0;
    unsigned long long off = strtoull(colon + 1, &stop, 0);
    if (errno != 0 || stop == colon + 1 || (stop < spec_end && *stop != '('))
        return false;
    memcpy(path, spec, (size_t)(colon - spec));
    path[colon - spec] = '\0';
    *offset = off;
    return true;
}

bool psum_os_uprobe_in(uint64_t dev, uint64_t ino, uint64_t offset, uint64_t len)
{
    static const char *const lists[] = {"/sys/kernel/tracing/uprobe_events",
                                        "/sys/kernel/debug/tracing/uprobe_events"};
    char *text = malloc(65536);
    if (!text)
        return false;
    bool found = false;
    for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]) && !found; i++) {
        ssize_t n = read_small(lists[i], text, 65536);
        if (n <= 0)
            continue;
        for (char *line = text; line && *line && !found;) {
            char *nl = strchr(line, '\n');
            size_t line_len = nl ? (size_t)(nl - line) : strlen(line);
            char path[4096];
            uint64_t at;
            struct stat st;
            if (psum_linux_uprobe_line_parse(line, line_len, path, sizeof(path), &at) && at >= offset &&
                at - offset < len && stat(path, &st) == 0 && (uint64_t)st.st_dev == dev &&
                (uint64_t)st.st_ino == ino)
                found = true;
            line = nl ? nl + 1 : NULL;
        }
    }
    free(text);
    return found;
}
