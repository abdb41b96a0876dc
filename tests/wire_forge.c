/*
 * A process of procsum run's tree that lies: it sends run's socket (from
 * PROCSUM_OUTPUT=socket:PATH) a well-formed state event, encoded with
 * procsum's own wire code, that claims to come from process 1 on host
 * "forged-host". run must write it under this process's pid, as the kernel
 * says who sent it, and under its own host name. Prints its pid.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "wire.h"

int main(void)
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
    psum_state s = {.at = {.sec = 1700000000, .nsec = 0, .host = "forged-host"}, .action = "not-watched", .pid = 1,
                    .executable = "/forged/program", .status = "error", .error = PROCSUM_EACCES};
    size_t len = psum_wire_state(buf, &s);
    if (sendto(fd, buf, len, 0, (const struct sockaddr *)&addr, sizeof(addr)) != (ssize_t)len) {
        perror("wire_forge: sendto");
        return 1;
    }
    close(fd);
    printf("%ld\n", (long)getpid());
    return 0;
}
