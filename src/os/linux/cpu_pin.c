/*
 * A thread that only waits (the checker's before its first pass, the
 * preload library's before its delay is over) starts on its creator's
 * CPU and stays there while it waits. Left to the scheduler, a new thread
 * goes to the other CPU when that one is idle: on a virtual machine, a
 * process that ends within the wait then pays for a wake-up of another
 * CPU at the thread's start and one more at its end (exit or exec must
 * kill it), which costs a short process more than the thread itself.
 *
 * The creator pins itself for the instant of pthread_create and the new
 * thread inherits the mask; pthread_attr_setaffinity_np would start the
 * thread stopped, move it, then let it go, a hand-over between the two.
 * The waiting thread takes its creator's mask back (psum_linux_cpu_unpin)
 * before it does any work, which then runs wherever the program may.
 * Nothing here fails loudly: without a pin the thread starts as before.
 */
#include "cpu_pin.h"

bool psum_linux_cpu_pin(cpu_set_t *was)
{
    int cpu = sched_getcpu();
    if (cpu < 0 || cpu >= CPU_SETSIZE || sched_getaffinity(0, sizeof(*was), was) != 0)
        return false;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    return sched_setaffinity(0, sizeof(one), &one) == 0;
}

void psum_linux_cpu_unpin(const cpu_set_t *was)
{
    (void)sched_setaffinity(0, sizeof(*was), was); /* 0: the calling thread */
}
