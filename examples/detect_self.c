/*
 * A program that knows procsum only through procsum.h and pkg-config:
 *   cc detect_self.c $(pkg-config --cflags --libs procsum) -o detect_self
 * It starts a checker, flips one bit of its own code, and waits for the
 * report. Exit status 0 when the right page of this program was named.
 */
#define _DEFAULT_SOURCE /* usleep, readlink */
#include <procsum.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static atomic_uintptr_t reported_page;
static char reported_source[4096];

static void on_mismatch(const procsum_mismatch *m, void *userdata)
{
    (void)userdata;
    snprintf(reported_source, sizeof(reported_source), "%s", m->region->source);
    printf("changed: %s, %zu page(s) from %#lx\n", m->region->source, m->changed_pages,
           (unsigned long)m->first_changed_page);
    atomic_store(&reported_page, m->first_changed_page);
}

/* Never called: its bytes are the ones we change. */
int never_called(int x);
__attribute__((noinline)) int never_called(int x)
{
    return x + 42;
}

int main(void)
{
    procsum_options opts;
    procsum_options_init(&opts);
    opts.check_period_ms = 10;
    procsum_checker *checker;
    int err = procsum_start(&opts, on_mismatch, NULL, &checker);
    if (err) {
        fprintf(stderr, "procsum_start: %s\n", procsum_strerror(err));
        return 1;
    }

    uintptr_t addr = (uintptr_t)&never_called;
    uintptr_t page = addr & ~(uintptr_t)(PROCSUM_PAGE_SIZE - 1);
    if (mprotect((void *)page, PROCSUM_PAGE_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC) != 0)
        return 1;
    *(volatile uint8_t *)addr ^= 0x10;
    if (mprotect((void *)page, PROCSUM_PAGE_SIZE, PROT_READ | PROT_EXEC) != 0)
        return 1;

    for (int i = 0; i < 30000 && atomic_load(&reported_page) == 0; i++)
        usleep(1000);
    procsum_stop(checker);

    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    self[n > 0 ? n : 0] = '\0';
    if (atomic_load(&reported_page) != page || strcmp(reported_source, self) != 0) {
        fprintf(stderr, "expected page %#lx of %s\n", (unsigned long)page, self);
        return 1;
    }
    printf("detected the flipped bit in page %#lx of %s\n", (unsigned long)page, self);
    return 0;
}
