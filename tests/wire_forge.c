/*
 * A process of procsum run's tree that lies: it sends run's socket (from
 * PROCSUM_OUTPUT=socket:PATH) well-formed events, encoded with procsum's
 * own wire code, that claim to come from process 1 on host "forged-host".
 * Prints its pid.
 *
 *   wire_forge          a state "not-watched": run must write it under this
 *                       process's pid, as the kernel says who sent it, and
 *                       under its own host name
 *   wire_forge alert    an alert about /forged/program: a process checked
 *                       from outside has no checker that could send one
 *   wire_forge pass     two pass counts of nearly 2^64 bytes each: counters
 *                       that must not wrap
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "wire.h"

int main(int argc, char **argv)
{
    const char *out = getenv("PROCSUM_OUTPUT");
    if (!out || strncmp(out, "socket:", 7) != 0) {
        fprintf(stderr, "wire_forge: PROCSUM_OUTPUT is not socket:PATH\n");
        return 1;
    }
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", out + 7);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        perror("wire_forge: socket");
        return 1;
    }
    static char buf[PSUM_WIRE_MAX];
    size_t len[2] = {0, 0};
    const char *what = argc > 1 ? argv[1] : "state";
    psum_event_origin at = {.sec = 1700000000, .nsec = 0, .host = "forged-host"};
    if (strcmp(what, "alert") == 0) {
        procsum_region r = {.start = 0x400000, .end = 0x401000, .source = "/forged/program", .kind = PROCSUM_REGION_FILE};
        procsum_page_change pc = {.addr = 0x400000, .verdict = PROCSUM_VERDICT_BITFLIP, .changed_bytes = 1,
                                  .changed_bits = 1};
        psum_alert a = {.at = at, .action = "code-changed", .pid = 1, .executable = "/forged/program", .region = &r,
                        .page = &pc};
        len[0] = psum_wire_alert(buf, &a);
    } else if (strcmp(what, "pass") == 0) {
        psum_pass p = {.processes = 1, .passes = UINT64_MAX - 1, .pages_checked = 1, .bytes_hashed = UINT64_MAX - 1};
        len[0] = len[1] = psum_wire_pass(buf, 1, &at, &p);
    } else {
        psum_state s = {.at = at, .action = "not-watched", .pid = 1, .executable = "/forged/program",
                        .status = "error", .error = PROCSUM_EACCES};
        len[0] = psum_wire_state(buf, &s);
    }
    for (int i = 0; i < 2 && len[i]; i++)
        if (sendto(fd, buf, len[i], 0, (const struct sockaddr *)&addr, sizeof(addr)) != (ssize_t)len[i]) {
            perror("wire_forge: sendto");
            return 1;
        }
    close(fd);
    printf("%ld\n", (long)getpid());
    return 0;
}
