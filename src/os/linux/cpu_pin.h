/* Starting a thread on the CPU its creator runs on (cpu_pin.c says why). */
#ifndef PSUM_LINUX_CPU_PIN_H
#define PSUM_LINUX_CPU_PIN_H

#include <sched.h>
#include <stdbool.h>

/*
 * Pins the calling thread to the CPU it runs on and keeps its mask in
 * *was; false when nothing was changed. A thread it creates then inherits
 * the pin.
 */
bool psum_linux_cpu_pin(cpu_set_t *was);
/* Gives the calling thread the mask *was (kept by psum_linux_cpu_pin). */
void psum_linux_cpu_unpin(const cpu_set_t *was);

#endif
