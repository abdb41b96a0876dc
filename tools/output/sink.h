/*
 * Where a command's output goes: a FILE and the first error writing to it.
 * Every write is checked; after the first failure nothing more is written
 * and every call fails, so a command can stop at its next write and the
 * caller reports the error once, with the errno of the write that failed.
 */
#ifndef PSUM_OUTPUT_SINK_H
#define PSUM_OUTPUT_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#if defined(__MINGW_PRINTF_FORMAT)
#define PSUM_PRINTF(f, a) __attribute__((format(__MINGW_PRINTF_FORMAT, f, a)))
#elif defined(__GNUC__)
#define PSUM_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define PSUM_PRINTF(f, a)
#endif

typedef struct psum_sink {
    FILE *f; /* NULL for an output that writes otherwise and only keeps its error here */
    int err; /* errno of the first failed write, flush or close; 0 while all went well */
    bool take_back; /* a regular file: a line it could not take whole is cut off again */
} psum_sink;

/* The escaping functions of escape.h have this shape. */
typedef size_t (*psum_escape_fn)(char *dst, size_t cap, const char *src);

void psum_sink_init(psum_sink *s, FILE *f);
/* Each returns 0, or -1 with s->err set (now or by an earlier call). */
int psum_sink_write(psum_sink *s, const void *p, size_t n);
int psum_sink_puts(psum_sink *s, const char *str);
int psum_sink_printf(psum_sink *s, const char *fmt, ...) PSUM_PRINTF(2, 3);
/* n bytes as lowercase hex. */
int psum_sink_hex(psum_sink *s, const uint8_t *bytes, size_t n);
/* str after `escape` (psum_escape_text or psum_escape_json). */
int psum_sink_escaped(psum_sink *s, psum_escape_fn escape, const char *str);
/* Hands what was written so far to the system. */
int psum_sink_flush(psum_sink *s);
/*
 * Makes the FILE's buffer large enough that a line flushed at once reaches
 * the system in one write: a reader of a pipe or a file never sees half of
 * it. In a regular file, a line that fails part written (a full disk, a file
 * size limit) is cut off again, so the file still ends with a whole line and
 * the next run's first line is not glued to half of one. Call before
 * anything is written.
 */
void psum_sink_whole_lines(psum_sink *s);
/*
 * Flushes and closes the FILE (a close can be the first to learn that the
 * data did not arrive). Returns 0 or the first errno met since init.
 */
int psum_sink_close(psum_sink *s);

/*
 * Makes sure descriptors 0, 1 and 2 are open, before anything else opens a
 * file: when the command is started with one of them closed, the next file
 * opened (by the library, say) would take its number and receive what was
 * meant for the terminal. A closed one is occupied by /dev/null opened
 * read-only, so writes to it still fail (EBADF) and are reported.
 * Nothing to do on Windows. Returns 0 or an errno.
 */
int psum_sink_reserve_std_fds(void);

#endif
