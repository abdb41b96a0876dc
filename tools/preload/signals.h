/* The preload library's sigaction and signal (signals.c): a program's SIGURG handler kept aside during the delay. */
#ifndef PSUM_PRELOAD_SIGNALS_H
#define PSUM_PRELOAD_SIGNALS_H

/* From the constructor, before anything is armed: the late start calls the C library's sigaction from now on. */
void psum_preload_keep_signals(void);

#endif
