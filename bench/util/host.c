/* The machine and this process, from /proc: the CPU, memory figures, threads and their CPU time. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "bench_util.h"

/* The value of a "key: value" line of /proc/cpuinfo, its padding and newline cut off; NULL without a colon. */
static char *cpuinfo_value(char *line)
{
    char *v = strchr(line, ':');
    if (!v)
        return NULL;
    v++;
    while (*v == ' ' || *v == '\t')
        v++;
    v[strcspn(v, "\n")] = '\0';
    /* Collapse the padding some hypervisors leave. */
    char *e = v + strlen(v);
    while (e > v && e[-1] == ' ')
        *--e = '\0';
    return v;
}

void bench_cpu_info(bench_cpu *cpu)
{
    snprintf(cpu->name, sizeof cpu->name, "unknown CPU");
    cpu->avx2 = cpu->avx512 = false;
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[4096];
    bool named = false, flagged = false;
    while ((!named || !flagged) && fgets(line, sizeof line, f)) {
        char *v = cpuinfo_value(line);
        if (!v)
            continue;
        if (!named && strncmp(line, "model name", 10) == 0) {
            snprintf(cpu->name, sizeof cpu->name, "%s", v);
            named = true;
        } else if (!flagged && strncmp(line, "flags", 5) == 0) {
            cpu->avx2 = strstr(v, " avx2") != NULL;
            cpu->avx512 = strstr(v, " avx512f") != NULL;
            flagged = true;
        }
    }
    fclose(f);
}

void bench_host_info(bench_host *h)
{
    bench_cpu_info(&h->cpu);
    h->cores = sysconf(_SC_NPROCESSORS_ONLN);
    struct utsname un;
    snprintf(h->kernel, sizeof h->kernel, "%s", uname(&un) == 0 ? un.release : "unknown");
    time_t now = time(NULL);
    struct tm tm;
    if (!gmtime_r(&now, &tm) || strftime(h->date, sizeof h->date, "%Y-%m-%d %H:%M UTC", &tm) == 0)
        snprintf(h->date, sizeof h->date, "unknown date");
}

int bench_read_mem_status(bench_mem_status *m)
{
    m->rss_kb = m->file_kb = m->anon_kb = m->hwm_kb = -1;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        long v;
        if (sscanf(line, "VmRSS: %ld kB", &v) == 1)
            m->rss_kb = v;
        else if (sscanf(line, "RssFile: %ld kB", &v) == 1)
            m->file_kb = v;
        else if (sscanf(line, "RssAnon: %ld kB", &v) == 1)
            m->anon_kb = v;
        else if (sscanf(line, "VmHWM: %ld kB", &v) == 1)
            m->hwm_kb = v;
    }
    if (fclose(f) != 0)
        return -1;
    return m->rss_kb >= 0 ? 0 : -1;
}

bool bench_reset_hwm(void)
{
    int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    bool ok = write(fd, "5", 1) == 1;
    if (close(fd) != 0)
        ok = false;
    return ok;
}

int bench_list_tasks(pid_t *tids, int cap)
{
    DIR *d = opendir("/proc/self/task");
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        if (n < cap)
            tids[n++] = (pid_t)atol(e->d_name);
    }
    if (closedir(d) != 0)
        return -1;
    return n;
}

pid_t bench_new_task(const pid_t *before, int n_before, const pid_t *after, int n_after)
{
    pid_t tid = -1;
    for (int i = 0; i < n_after; i++) {
        bool old = false;
        for (int j = 0; j < n_before; j++)
            old = old || after[i] == before[j];
        if (!old)
            tid = tid == -1 ? after[i] : -2;
    }
    return tid;
}

double bench_task_cpu_ns(pid_t tid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%ld/schedstat", (long)tid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    unsigned long long ns;
    int got = fscanf(f, "%llu", &ns);
    if (fclose(f) != 0 || got != 1)
        return -1;
    return (double)ns;
}
