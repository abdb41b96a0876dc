/*
 * The process-event connector: a netlink socket of the NETLINK_CONNECTOR
 * family bound to the CN_IDX_PROC group, and one PROC_CN_MCAST_LISTEN
 * message to the kernel, after which every fork, exec and exit on the host
 * arrives as a proc_event (linux/cn_proc.h). Only whole processes are
 * passed on: a new thread's fork and a thread's exit carry a thread id that
 * is not the process's. Reads never block; the socket is polled.
 */
#include "procevents.h"

#include <errno.h>
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* The inode numbers the kernel gives its first PID and user namespaces (include/linux/proc_ns.h). */
#define FIRST_USER_NS_INO 0xEFFFFFFDu
#define FIRST_PID_NS_INO 0xEFFFFFFCu

struct psum_procevents {
    int fd;
};

/* The listen request: a netlink header, a connector message, and the operation. */
static int subscribe(int fd)
{
    enum proc_cn_mcast_op op = PROC_CN_MCAST_LISTEN;
    _Alignas(struct nlmsghdr) char req[NLMSG_SPACE(sizeof(struct cn_msg) + sizeof(op))];
    memset(req, 0, sizeof(req));
    struct nlmsghdr *nl = (struct nlmsghdr *)req;
    nl->nlmsg_len = NLMSG_LENGTH(sizeof(struct cn_msg) + sizeof(op));
    nl->nlmsg_type = NLMSG_DONE;
    nl->nlmsg_pid = (uint32_t)getpid();
    struct cn_msg *cn = NLMSG_DATA(nl);
    cn->id.idx = CN_IDX_PROC;
    cn->id.val = CN_VAL_PROC;
    cn->len = sizeof(op);
    memcpy(cn->data, &op, sizeof(op));
    ssize_t n;
    do
        n = send(fd, req, nl->nlmsg_len, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return errno;
    return n == (ssize_t)nl->nlmsg_len ? 0 : EIO;
}

/*
 * Whether the calling process is in the host's first PID and user
 * namespaces, the only place the kernel sends process events to: elsewhere
 * it takes the subscription without a word and sends nothing. Where
 * /proc/self/ns cannot be read, the subscription is tried as before.
 */
static bool in_first_namespaces(void)
{
    struct stat pid_ns, user_ns;
    if (stat("/proc/self/ns/pid", &pid_ns) != 0 || stat("/proc/self/ns/user", &user_ns) != 0)
        return true;
    return pid_ns.st_ino == FIRST_PID_NS_INO && user_ns.st_ino == FIRST_USER_NS_INO;
}

int psum_procevents_open(psum_procevents **out)
{
    *out = NULL;
    if (getenv("PROCSUM_NO_PROC_EVENTS"))
        return ECANCELED;
    if (!in_first_namespaces())
        return EXDEV;
    int fd = socket(PF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_CONNECTOR);
    if (fd < 0)
        return errno;
    struct sockaddr_nl addr = {.nl_family = AF_NETLINK, .nl_groups = CN_IDX_PROC};
    int err = bind(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0 ? 0 : errno;
    if (!err)
        err = subscribe(fd);
    psum_procevents *e = err ? NULL : malloc(sizeof(*e));
    if (!err && !e)
        err = ENOMEM;
    if (err) {
        close(fd);
        return err;
    }
    e->fd = fd;
    *out = e;
    return 0;
}

int psum_procevents_fd(const psum_procevents *e)
{
    return e->fd;
}

/* One proc_event: passed on when it is about a whole process. */
static void dispatch(const struct proc_event *ev, void (*on)(void *, psum_procevent, long), void *ctx)
{
    switch (ev->what) {
    case PROC_EVENT_FORK:
        if (ev->event_data.fork.child_pid == ev->event_data.fork.child_tgid)
            on(ctx, PSUM_PROCEVENT_FORK, (long)ev->event_data.fork.child_tgid);
        break;
    case PROC_EVENT_EXEC:
        on(ctx, PSUM_PROCEVENT_EXEC, (long)ev->event_data.exec.process_tgid);
        break;
    case PROC_EVENT_EXIT:
        if (ev->event_data.exit.process_pid == ev->event_data.exit.process_tgid)
            on(ctx, PSUM_PROCEVENT_EXIT, (long)ev->event_data.exit.process_tgid);
        break;
    default:
        break;
    }
}

int psum_procevents_read(psum_procevents *e, void (*on)(void *ctx, psum_procevent event, long pid), void *ctx)
{
    /* Aligned for the headers inside; one datagram holds one or more netlink messages. */
    _Alignas(struct nlmsghdr) char buf[8192];
    for (;;) {
        struct sockaddr_nl from;
        socklen_t from_len = sizeof(from);
        ssize_t n = recvfrom(e->fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &from_len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (n < 0 && errno == ENOBUFS) {
            on(ctx, PSUM_PROCEVENT_LOST, 0);
            continue;
        }
        if (n < 0)
            return errno;
        if (from.nl_pid != 0)
            continue; /* only the kernel speaks for the connector */
        int left = (int)n;
        for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
            if (h->nlmsg_type == NLMSG_ERROR || h->nlmsg_type == NLMSG_NOOP)
                continue;
            const struct cn_msg *cn = NLMSG_DATA(h);
            if (NLMSG_PAYLOAD(h, 0) < sizeof(*cn) || cn->id.idx != CN_IDX_PROC || cn->id.val != CN_VAL_PROC ||
                NLMSG_PAYLOAD(h, 0) - sizeof(*cn) < cn->len || cn->len < sizeof(struct proc_event))
                continue;
            /* The event follows a 20-byte header: copied out, as it need not be aligned for its 8-byte fields. */
            struct proc_event ev;
            memcpy(&ev, cn->data, sizeof(ev));
            dispatch(&ev, on, ctx);
        }
    }
}

void psum_procevents_close(psum_procevents *e)
{
    if (!e)
        return;
    close(e->fd);
    free(e);
}
