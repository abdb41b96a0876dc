/*
 * procsum: notice when a running process's machine code changes.
 *
 * procsum hashes every executable page of a process (its own binary and
 * every shared library), hashes them again every period, and reports each
 * page whose content diverged from its baseline.
 *
 * Conventions
 *  - Every function that can fail returns 0 on success or a negative
 *    PROCSUM_E* code; procsum_strerror() turns a code into words.
 *  - Options structs are filled by their _init function first, so that
 *    fields added in later versions keep their defaults for old callers.
 *  - Handles are opaque. Nothing is printed, nothing exits or aborts.
 */
#ifndef PROCSUM_H
#define PROCSUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32) && defined(PROCSUM_BUILDING_DLL)
#define PROCSUM_API __declspec(dllexport)
#elif defined(_WIN32) && defined(PROCSUM_SHARED)
#define PROCSUM_API __declspec(dllimport)
#elif defined(__GNUC__)
#define PROCSUM_API __attribute__((visibility("default")))
#else
#define PROCSUM_API
#endif

#define PROCSUM_VERSION_MAJOR 0
#define PROCSUM_VERSION_MINOR 1
#define PROCSUM_VERSION_PATCH 0

/* The size of the unit that baselines are kept for. */
#define PROCSUM_PAGE_SIZE 4096u
/* The largest digest any algorithm produces, in bytes. */
#define PROCSUM_MAX_DIGEST 32u

/*
 * Error codes: one list, expanded into the enum below and into
 * procsum_err_name() and procsum_strerror(), so that names and words cannot
 * drift. XX(name, value, words). The values are the same on every platform
 * (they follow Linux's errno numbering), so they can be logged and compared
 * anywhere. No other negative value leaves the library.
 */
#define PROCSUM_ERRNO_MAP(XX)                                           \
    XX(EPERM, -1, "operation not permitted")                            \
    XX(ENOENT, -2, "no such file or directory")                         \
    XX(ESRCH, -3, "no such process")                                    \
    XX(EIO, -5, "input/output error")                                   \
    XX(EAGAIN, -11, "resource temporarily unavailable")                 \
    XX(ENOMEM, -12, "out of memory")                                    \
    XX(EACCES, -13, "permission denied")                                \
    XX(EFAULT, -14, "memory could not be read (unmapped or protected)") \
    XX(EBUSY, -16, "busy (or called from the checker's own thread)")    \
    XX(EINVAL, -22, "invalid argument")                                 \
    XX(ENFILE, -23, "too many open files in the system")                \
    XX(EMFILE, -24, "too many open files in this process")              \
    XX(ERANGE, -34, "value out of range")                               \
    XX(ENOSYS, -38, "not supported on this platform")                   \
    XX(EBADMSG, -74, "malformed data from the operating system")        \
    XX(ECANCELED, -125, "stopped on request")

typedef enum procsum_error {
#define PROCSUM_ERROR_ENUM_(name, value, words) PROCSUM_##name = value,
    PROCSUM_ERRNO_MAP(PROCSUM_ERROR_ENUM_)
#undef PROCSUM_ERROR_ENUM_
} procsum_error;

typedef enum procsum_algorithm {
    PROCSUM_ALGO_BLAKE3 = 0, /* 32-byte BLAKE3; collisions cannot be forged */
    PROCSUM_ALGO_CRC64 = 1,  /* 8-byte CRC-64/XZ; fast, catches accidents only */
    PROCSUM_ALGO_XXH3 = 2    /* 8-byte XXH3-64; fast, catches accidents only */
} procsum_algorithm;

/* A digest cache that checkers of many processes share (procsum_digest_cache_new). */
typedef struct procsum_digest_cache procsum_digest_cache;
/* A thread that several checkers share (procsum_runner_new). */
typedef struct procsum_runner procsum_runner;
typedef struct procsum_stats procsum_stats; /* below */

typedef struct procsum_options {
    unsigned check_period_ms;    /* default 1000; 0 is refused (PROCSUM_EINVAL) */
    bool skip_libs;              /* default false: true checks only the main executable */
    bool search_once;            /* default false: true discovers regions once */
    bool include_writable_code;  /* default false: true also checks rwx regions */
    procsum_algorithm algorithm; /* default PROCSUM_ALGO_BLAKE3 */
    /* Fields below were added after the original contract. */
    /*
     * default false. true keys BLAKE3 (its keyed mode) and XXH3 (a secret)
     * with random bytes drawn when the checker starts and never shown, so
     * that someone who can write code pages cannot also compute the digests
     * procsum will expect. Digests then differ from b3sum's. CRC-64 is linear
     * and forgeable by anyone, keyed or not: it is left unkeyed.
     */
    bool keyed_digests;
    /*
     * default 0: no limit. 1 to 100: the share of one core the checker's
     * thread may use, averaged over each pass; passes are cut into slices
     * and paced. When the budget cannot cover every page once per period,
     * passes take longer and procsum_stats.slow_passes counts them. The
     * first baseline, which procsum_start takes on the caller's thread
     * before it returns, is not paced.
     */
    unsigned max_cpu_percent;
    bool low_priority;        /* default true: the checker's thread runs at the lowest priority */
    /*
     * default false: pages that the process does not have in memory are not
     * read (reading them would load code the program never ran), and get
     * their baseline when they first appear. true reads everything, as
     * process_consistency did.
     */
    bool include_nonresident;
    /*
     * default false. A checker does not survive fork(): the child has no
     * checker thread, and procsum_stop() there only releases its copy. true
     * starts a new checker in every child, with a fresh baseline and the
     * same options, callback and userdata; its handle is procsum_forked().
     */
    bool follow_fork;
    /*
     * default true. When a page of a file mapping gets its baseline, it is
     * compared with the file: a page that already differs (a hook installed
     * before procsum started, a breakpoint, a text relocation) is reported
     * once, as PROCSUM_REPORT_DIFFERS_FROM_FILE. It reads pages the file
     * system already caches for the mapping.
     */
    bool verify_file;
    /*
     * default false. A changed page of a file mapping whose file is still
     * the one mapped is written back from the file, and the report says so.
     */
    bool repair;
    /*
     * default true. A page that is the file's own cached page (every
     * process mapping the file shares it) is compared with the disk below
     * the cache when it gets its baseline (verify_file), so that a page gone
     * bad in RAM is told from a change; changed pages always are. It reads
     * the disk (O_DIRECT): false compares new pages through the cache only.
     */
    bool verify_below_cache;
    /*
     * default false. true: procsum_start returns at once, and the first
     * baseline is taken lazy_start_delay_ms later on the checker's thread,
     * so that a checker in every process of a fork/exec-heavy script costs
     * almost nothing in the processes that end sooner. A change made before
     * that first pass has no baseline to differ from: verify_file still
     * finds it against the file, where the page is file-backed.
     */
    bool lazy_start;
    unsigned lazy_start_delay_ms; /* default 100 */
    /*
     * default 0. follow_fork: a forked child's checker starts this long
     * after fork(). A child that runs a new program or exits sooner then
     * never has a checker thread (below), and fork() writes nothing of the
     * checker in it. It goes on from the parent's baseline, so a change
     * made in between is still found. procsum_forked() within the delay
     * hands the child's checker over at once (its delay then counts from
     * that call).
     */
    unsigned follow_fork_delay_ms;
    /*
     * default false. How a delayed start (lazy_start, follow_fork_delay_ms)
     * waits. false: on Linux x86-64 a timer, whose signal (SIGURG, ignored
     * by default) starts the checker's thread when the delay is over, at a
     * moment when no lock of the C library can be held; a process that ends
     * sooner never has the thread. docs/limits.md says what a program may
     * notice. Where that cannot be (the program handles or blocks SIGURG
     * itself; other platforms), and with true, the thread starts at once
     * and sleeps through the delay.
     */
    bool lazy_start_thread;
    /*
     * default 0: the calling process. Another process's id checks that
     * process from outside: its regions from its maps, its pages copied
     * (never mapped or faulted in), its residency from its page table, and
     * its files opened as it maps them (even when deleted, replaced or in
     * another mount namespace). It needs the right to read the process's
     * memory (ptrace's read mode: the same user and no protection, or
     * CAP_SYS_PTRACE); docs/operating.md says what else helps. When the
     * process exits, passes fail with PROCSUM_ESRCH (procsum_stats.last_error);
     * when it runs a new program (exec), the next pass takes a fresh
     * baseline (procsum_stats.new_programs). Negative: PROCSUM_EINVAL. The
     * calling process's own id is checked as another process would be.
     */
    long pid;
    /*
     * default NULL. A NULL-terminated list of patterns over the paths of
     * mapped files, with fnmatch(3)'s meaning without flags in the C locale
     * ('*' and '?' also match '/'; '[set]' with [:class:]; '\\' quotes): a file mapping
     * whose path matches one is not read, hashed, compared or reported, as
     * if it were not executable. For code that is patched on purpose (an
     * agent's hooks). procsum_start, procsum_run and procsum_verifier_new
     * copy the list; the other calls use it only while they run. An empty
     * pattern, or more than PROCSUM_MAX_SKIP_FILES, is PROCSUM_EINVAL.
     */
    const char *const *skip_files;
    /*
     * default NULL. A cache from procsum_digest_cache_new() that several
     * checkers share (one per process, procsum watch --all): a page of a
     * file's page cache (not a process's private copy of it) is the same
     * physical page in every process that maps that file page, so its
     * digest, taken by one checker, serves the others for one period of
     * the cache instead of being read and hashed by each. Private copies
     * are read by each checker. A page whose shared digest differs from
     * the process's baseline is read from that process before anything is
     * reported, so each process's report is about its own mapping. A region
     * whose pages came from the cache has no region digest that pass
     * (reports then carry page digests: digest_is_page). The checker's
     * algorithm and keyed_digests must be the cache's (else
     * PROCSUM_EINVAL); keyed checkers use the cache's key. The cache must
     * outlive every checker given it. A checker started in a forked child
     * (follow_fork) does without it.
     */
    procsum_digest_cache *digest_cache;
    /*
     * default NULL. Called on the checker's thread after every pass, failed
     * ones too (procsum_run: on the caller's thread), with the checker's
     * counters as procsum_get_stats() gives them and the userdata given to
     * procsum_start() or procsum_run(), under procsum_callback's rules. For
     * metrics: a forked child's checker (follow_fork) calls it with its own
     * counters, which start from zero.
     */
    void (*pass_callback)(const procsum_stats *stats, void *userdata);
    /*
     * default NULL: the checker has a thread of its own. A runner from
     * procsum_runner_new(): the checkers given it have no thread of their
     * own but take turns on the runner's, one pass at a time, the pass due
     * first going first (a pass procsum_check_now() asks for goes next).
     * A watch of many processes then wakes one thread, not one per
     * process, and max_cpu_percent, which paces each pass, bounds all of
     * them together. A pass longer than the others' periods delays theirs.
     * The runner must outlive its checkers. procsum_start() only
     * (procsum_run() refuses it); a checker started in a forked child
     * (follow_fork) has a thread of its own.
     */
    procsum_runner *runner;
} procsum_options;

/* The most patterns options.skip_files may hold. */
#define PROCSUM_MAX_SKIP_FILES 1024u

/*
 * What backs an executable region: XX(NAME, value, name, meaning), expanded
 * into the enum and procsum_region_kind_name(). The same shape serves every
 * list of named values below.
 */
#define PROCSUM_REGION_KIND_MAP(XX)                                          \
    XX(FILE, 0, "file", "a mapped file; source is its path")                 \
    XX(ANON, 1, "anon", "anonymous memory (JIT code); source is \"[anon]\"") \
    XX(VDSO, 2, "vdso", "the kernel's vDSO; source is \"[vdso]\"")           \
    XX(OTHER, 3, "other", "another kernel-named mapping; source is its name")

typedef enum procsum_region_kind {
#define PROCSUM_REGION_KIND_ENUM_(NAME, value, name, meaning) PROCSUM_REGION_##NAME = value,
    PROCSUM_REGION_KIND_MAP(PROCSUM_REGION_KIND_ENUM_)
#undef PROCSUM_REGION_KIND_ENUM_
} procsum_region_kind;

typedef struct procsum_region {
    uintptr_t start, end; /* [start, end), page aligned */
    const char *source;   /* the mapped file's path, or a bracketed name: [anon], [vdso] */
    /* Fields below were added after the original contract. */
    procsum_region_kind kind;
    bool main_executable; /* the process's own program file */
    bool writable;        /* rwx: only listed with include_writable_code */
    bool file_deleted;    /* the file was unlinked or replaced since it was mapped */
    uint64_t file_offset; /* offset in the file of `start` (0 if not a file) */
    /*
     * The region's digest with the algorithm in use (the first
     * procsum_digest_len() bytes; the rest are zero): in a mismatch, the
     * current one; in a benchmark result, the one just taken.
     */
    uint8_t digest[PROCSUM_MAX_DIGEST];
    /* false when some pages were not read (not in memory): digest is then all zero */
    bool digest_valid;
} procsum_region;

/* What the bytes of a changed page say, against the file it was mapped from. */
#define PROCSUM_VERDICT_MAP(XX)                                                                    \
    XX(UNKNOWN, 0, "unknown", "no file to compare with (anonymous memory, file gone or replaced)") \
    XX(BITFLIP, 1, "bitflip", "exactly one bit differs from the file in the page")                 \
    XX(MULTI_BIT, 2, "multi-bit", "several bits, each alone in its byte, far apart")               \
    XX(PATCH, 3, "patch", "bytes written: a byte with several bits changed, or a run of bytes")    \
    XX(RESTORED, 4, "restored", "the page equals the file again")

typedef enum procsum_verdict {
#define PROCSUM_VERDICT_ENUM_(NAME, value, name, meaning) PROCSUM_VERDICT_##NAME = value,
    PROCSUM_VERDICT_MAP(PROCSUM_VERDICT_ENUM_)
#undef PROCSUM_VERDICT_ENUM_
} procsum_verdict;

/* How the comparison with the file went. */
#define PROCSUM_FILE_STATUS_MAP(XX)                                                            \
    XX(COMPARED, 0, "compared", "the file is the one mapped, and was compared")                \
    XX(NONE, 1, "none", "not file-backed memory")                                              \
    XX(REPLACED, 2, "replaced", "the path is no longer the file mapped (deleted, replaced)")   \
    XX(UNREADABLE, 3, "unreadable", "the file could not be read")                              \
    XX(RELOCATED, 4, "relocated",                                                              \
       "the image was loaded away from its preferred base: its code differs from the file by " \
       "the loader's fixups, so it is not compared")                                           \
    XX(MODIFIED, 5, "modified",                                                                \
       "the file was written in place since the page's baseline: its bytes are not the "       \
       "page's old content, so none is shown")

typedef enum procsum_file_status {
#define PROCSUM_FILE_STATUS_ENUM_(NAME, value, name, meaning) PROCSUM_FILE_##NAME = value,
    PROCSUM_FILE_STATUS_MAP(PROCSUM_FILE_STATUS_ENUM_)
#undef PROCSUM_FILE_STATUS_ENUM_
} procsum_file_status;

#define PROCSUM_RUN_BYTES 16u

/* One run of changed bytes: from a changed byte to a changed byte, gaps under 8 bytes included. */
typedef struct procsum_byte_run {
    uintptr_t addr;       /* address of its first byte */
    uint64_t file_offset; /* offset of that byte in the file */
    size_t len;           /* bytes in the run */
    uint8_t old_bytes[PROCSUM_RUN_BYTES]; /* the file's bytes (the first min(len, 16)) */
    uint8_t new_bytes[PROCSUM_RUN_BYTES]; /* memory's bytes */
    uint8_t xor_mask[PROCSUM_RUN_BYTES];  /* old ^ new: the flipped bits */
} procsum_byte_run;

#define PROCSUM_MAX_RUNS 8u

/*
 * Why a page changed, as far as procsum can tell; docs/limits.md says how
 * each cause is recognised and what cannot be told apart.
 */
#define PROCSUM_CAUSE_MAP(XX)                                                                   \
    XX(UNKNOWN, 0, "unknown", "no cause could be told")                                         \
    XX(WRITE, 1, "write",                                                                       \
       "the process's private copy of the page was written: a patch or hook, from inside or "   \
       "through ptrace or /proc/PID/mem")                                                       \
    XX(BREAKPOINT, 2, "breakpoint",                                                             \
       "a software breakpoint (int3, 0xCC) over the file's byte while a tracer is attached")    \
    XX(UPROBE, 3, "uprobe",                                                                     \
       "a kernel uprobe (perf probe, bpftrace, BPF) at this file offset")                       \
    XX(RELOCATION, 4, "relocation", "the loader relocated text: DT_TEXTREL, PE fixups or "      \
       "pseudo-relocations")                                                                    \
    XX(MEMORY_CORRUPTION, 5, "memory-corruption",                                               \
       "the shared page-cache copy differs from the disk: a fault in RAM, which every process " \
       "mapping the file sees")                                                                 \
    XX(FILE_MODIFIED, 6, "file-modified", "the file was written in place after the baseline; "  \
       "memory follows it")

typedef enum procsum_cause {
#define PROCSUM_CAUSE_ENUM_(NAME, value, name, meaning) PROCSUM_CAUSE_##NAME = value,
    PROCSUM_CAUSE_MAP(PROCSUM_CAUSE_ENUM_)
#undef PROCSUM_CAUSE_ENUM_
} procsum_cause;

/* Which copy of a file page the process sees, and so what it must be compared with. */
#define PROCSUM_COPY_MAP(XX)                                                                       \
    XX(UNKNOWN, 0, "unknown", "not a file page, or the platform cannot tell")                      \
    XX(SHARED, 1, "page-cache",                                                                    \
       "the file's own cached page, shared by every process that maps it: compared with the disk " \
       "below the cache")                                                                          \
    XX(PRIVATE, 2, "private", "this process's own copy of the page: compared with the file")

typedef enum procsum_copy {
#define PROCSUM_COPY_ENUM_(NAME, value, name, meaning) PROCSUM_COPY_##NAME = value,
    PROCSUM_COPY_MAP(PROCSUM_COPY_ENUM_)
#undef PROCSUM_COPY_ENUM_
} procsum_copy;

/* Where the file's bytes a page was compared with came from. */
#define PROCSUM_REFERENCE_MAP(XX)                                                                   \
    XX(NONE, 0, "none", "not compared")                                                             \
    XX(DISK, 1, "disk", "read below the page cache (O_DIRECT)")                                     \
    XX(CACHE, 2, "cache",                                                                           \
       "read through the page cache: for a page-cache copy this proves nothing about RAM, and the " \
       "report says so (the file system refuses reads below the cache, as tmpfs does)")

typedef enum procsum_reference {
#define PROCSUM_REFERENCE_ENUM_(NAME, value, name, meaning) PROCSUM_REFERENCE_##NAME = value,
    PROCSUM_REFERENCE_MAP(PROCSUM_REFERENCE_ENUM_)
#undef PROCSUM_REFERENCE_ENUM_
} procsum_reference;

/* What the option repair did with a changed page. */
#define PROCSUM_REPAIR_MAP(XX)                                                                     \
    XX(NONE, 0, "none", "not asked, or nothing to repair")                                         \
    XX(DONE, 1, "repaired", "written back from the file")                                          \
    XX(DONE_PRIVATE, 2, "repaired-private",                                                        \
       "written back into this process's own copy; the page-cache copy stays bad for every other " \
       "process that maps the file")                                                               \
    XX(REFUSED_FILE_CHANGED, 3, "refused-file-changed",                                            \
       "the file's page does not match the page's baseline any more: nothing was written")         \
    XX(REFUSED_NO_FILE, 4, "refused-no-file", "no file to repair from: nothing was written")       \
    XX(FAILED, 5, "failed", "the write failed")

typedef enum procsum_repair {
#define PROCSUM_REPAIR_ENUM_(NAME, value, name, meaning) PROCSUM_REPAIR_##NAME = value,
    PROCSUM_REPAIR_MAP(PROCSUM_REPAIR_ENUM_)
#undef PROCSUM_REPAIR_ENUM_
} procsum_repair;

/* One changed page, as exactly as the file allows. */
typedef struct procsum_page_change {
    uintptr_t addr;
    uint64_t file_offset;
    procsum_file_status file_status;
    procsum_verdict verdict;
    size_t changed_bytes, changed_bits; /* against the file */
    size_t run_count;                   /* runs stored below (at most PROCSUM_MAX_RUNS) */
    size_t total_runs;                  /* runs found, stored or not */
    procsum_byte_run runs[PROCSUM_MAX_RUNS];
    bool repaired; /* restored from the file (option repair) */
    /* Fields below were added after the original contract. */
    procsum_cause cause;
    procsum_copy copy;           /* which copy of the file page memory is */
    procsum_reference reference; /* where the file's bytes above came from */
    procsum_repair repair;       /* what repair did (PROCSUM_REPAIR_NONE without the option) */
    /*
     * About the first run, where the file names the function holding it
     * (ELF symbols; PE exports on Windows); NULL when unknown. They live as
     * long as the rest of the report (the callback; a verify result until
     * it is freed). symbol: "function+0xOFFSET". old_insn, new_insn: the
     * instructions covering the run in the file and in memory, "mnemonic
     * operands" joined by "; " (Intel syntax), a jump or call's target
     * named as "module+0xOFFSET" (its offset in the file mapped there) or
     * "0xADDRESS (anonymous memory)"; NULL where the build has no
     * disassembler (Windows). docs/api.md has the details.
     */
    const char *symbol;
    const char *old_insn;
    const char *new_insn;
} procsum_page_change;

/* Why a report was made. */
#define PROCSUM_REPORT_KIND_MAP(XX)                                 \
    XX(CHANGED, 0, "changed", "pages changed since their baseline") \
    XX(DIFFERS_FROM_FILE, 1, "differs-from-file",                   \
       "pages already differed from their file when first seen (verify_file)")

typedef enum procsum_report_kind {
#define PROCSUM_REPORT_KIND_ENUM_(NAME, value, name, meaning) PROCSUM_REPORT_##NAME = value,
    PROCSUM_REPORT_KIND_MAP(PROCSUM_REPORT_KIND_ENUM_)
#undef PROCSUM_REPORT_KIND_ENUM_
} procsum_report_kind;

/*
 * One report: pages of `region` whose digest differs from their baseline.
 * Everything it points to lives only for the duration of the callback.
 */
typedef struct procsum_mismatch {
    const procsum_region *region;
    procsum_algorithm algorithm;
    /*
     * The region's digest before and after the change. When the region's
     * bounds changed since the baseline was taken (an mprotect splits a
     * mapping, the kernel merges it back), there is no old digest of the
     * region as it is bounded now: both then are the digests of the first
     * changed page, and digest_is_page says so.
     */
    const uint8_t *old_digest, *new_digest;
    size_t digest_len;
    struct timespec old_digest_time; /* wall clock when the old digest was taken */
    uintptr_t first_changed_page;    /* address of the lowest changed page */
    size_t changed_pages;            /* how many pages of the region changed */
    /* Fields below were added after the original contract. */
    bool digest_is_page;
    const uintptr_t *changed_page_addrs; /* all changed pages, ascending */
    procsum_report_kind kind;
    /* For each of the changed_pages pages, in the same order: the bytes against the file. */
    const procsum_page_change *page_changes;
} procsum_mismatch;

/*
 * Called once for every change found, on the checker's thread (procsum_run:
 * the caller's thread), with no procsum lock held. It may log, count, set
 * flags, and call procsum_strerror/procsum_version_string. It must not call
 * procsum_stop() on the checker that calls it (that would wait for itself;
 * it returns PROCSUM_EBUSY instead). It should return quickly: the checker
 * waits for it.
 */
typedef void (*procsum_callback)(const procsum_mismatch *m, void *userdata);

typedef struct procsum_benchmark_result {
    uint64_t scan_ns;      /* time to discover the regions */
    uint64_t hash_ns;      /* time to read and hash them once */
    uint64_t hashed_bytes; /* bytes really read and hashed */
    procsum_region *regions;
    size_t region_count;
} procsum_benchmark_result;

typedef struct procsum_checker procsum_checker;

/* Fills `o` with the defaults documented in procsum_options. */
PROCSUM_API void procsum_options_init(procsum_options *o);

/*
 * Takes the first baseline of every executable page before it returns, so
 * that any change made after it returns is reported; then checks every
 * `check_period_ms` on a background thread. `cb` may be NULL (changes are
 * then only counted). On success *out is a handle for procsum_stop().
 */
PROCSUM_API int procsum_start(const procsum_options *o, procsum_callback cb, void *userdata,
                              procsum_checker **out);

/*
 * Stops the checker within one slice of work (milliseconds, not a period),
 * joins its thread and frees it. `c` may be NULL.
 */
PROCSUM_API int procsum_stop(procsum_checker *c);

/*
 * Runs one full pass now, on the checker's thread, and waits for it.
 * Returns how many reports that pass made (0 or more), or a negative code.
 * Not from the callback (PROCSUM_EBUSY).
 */
PROCSUM_API int procsum_check_now(procsum_checker *c);

/*
 * Adopts the current content of every page as the new baseline, without
 * reports: call it after patching code on purpose. Waits for the pass.
 * Not from the callback (PROCSUM_EBUSY).
 */
PROCSUM_API int procsum_rebaseline(procsum_checker *c);

/*
 * In a child forked from a process whose checker had follow_fork, the
 * checker started for the child (NULL if none); give it to procsum_stop()
 * like any other.
 */
PROCSUM_API procsum_checker *procsum_forked(const procsum_checker *parent);

/* Reports found so far by this checker. */
PROCSUM_API uint64_t procsum_mismatch_count(const procsum_checker *c);

/* Counters of a running checker, for logs and metrics. */
typedef struct procsum_stats {
    uint64_t passes;         /* full passes completed, the first baseline included */
    uint64_t mismatches;     /* reports made */
    uint64_t bytes_hashed;   /* bytes read and hashed over all passes */
    uint64_t pages_tracked;  /* pages with a baseline after the last pass */
    uint64_t regions;        /* regions hashed in the last pass */
    uint64_t last_pass_ns;   /* duration of the last pass */
    uint64_t cpu_ns;         /* CPU time the checker's thread has used, the first baseline's included (on a runner: its passes) */
    uint64_t slow_passes;    /* passes that took longer than the period (CPU budget, size) */
    uint64_t skipped_pages;  /* pages not read in the last pass: not in memory */
    uint64_t table_bytes;    /* memory held for baselines: the current one and the one the next pass is built in */
    int last_error;          /* code of the last failed pass (retried next period), or 0 */
    /* Fields below were added after the original contract. */
    /*
     * Another process (options.pid): how many times it was seen running a
     * new program (exec), each time starting over with a fresh baseline.
     * PROCSUM_ESRCH in last_error says that it exited.
     */
    uint64_t new_programs;
    /*
     * Pages of the last pass whose digest came from options.digest_cache
     * (another checker had hashed the same page-cache page), not read.
     */
    uint64_t pages_shared;
    /*
     * Of passes: those over another process (options.pid) with a digest
     * cache that found its page table as the last whole pass had left it,
     * and so compared only the bytes of its pages (docs/api.md, quiet passes).
     */
    uint64_t quiet_passes;
} procsum_stats;

/* Fills *out with c's counters (each read atomically); safe from any thread. */
PROCSUM_API int procsum_get_stats(const procsum_checker *c, procsum_stats *out);

/*
 * Checks in the calling thread forever; returns only when discovering the
 * regions fails (a negative code), like process_consistency's run(): for
 * another process (options.pid), PROCSUM_ESRCH once it has exited.
 */
PROCSUM_API int procsum_run(const procsum_options *o, procsum_callback cb, void *userdata);

/* One discovery and one hashing pass over every region the options select. */
PROCSUM_API int procsum_benchmark(const procsum_options *o, procsum_benchmark_result *out);
PROCSUM_API void procsum_benchmark_result_free(procsum_benchmark_result *r);

/*
 * The executable regions the options select, each hashed once over the
 * pages the process has in memory (digest_valid: every page was): what
 * `procsum regions` lists. Free it with procsum_region_list_free().
 */
typedef struct procsum_region_list {
    procsum_region *regions;
    size_t count;
} procsum_region_list;
PROCSUM_API int procsum_list_regions(const procsum_options *o, procsum_region_list *out);
PROCSUM_API void procsum_region_list_free(procsum_region_list *l);

/*
 * Verification without a baseline: every resident executable page of a
 * process compared with the file it maps, once. The file is the reference:
 * a process's private copy of a page is compared with the file; the page
 * cache's own copy (shared by every process that maps the file page) with
 * the disk below the cache (verify_below_cache), so that a page gone bad in
 * RAM is found too. Pages not in memory are not read (unless
 * include_nonresident): reading them would load them.
 */
typedef struct procsum_verify_change {
    size_t region;            /* index in procsum_verify_result.regions of the page's region */
    procsum_page_change page; /* the page against its file: bytes, verdict, cause */
} procsum_verify_change;

typedef struct procsum_verify_result {
    long pid;                  /* the process verified (the caller's own id for pid 0) */
    uint64_t pages_checked;    /* resident pages compared with their file, equal or not */
    /*
     * Of those, page-cache pages that an earlier process of the same
     * verifier mapped too and that were found equal to the disk: the same
     * physical page, so not read again.
     */
    uint64_t pages_shared;
    /* Resident executable pages with nothing to compare with: anonymous (JIT) code, vDSO, a file unreadable. */
    uint64_t pages_unverified;
    uint64_t bytes_hashed;     /* bytes read and hashed for this process: memory and file pages */
    procsum_region *regions;   /* the regions holding changed pages (digest fields unused) */
    size_t region_count;
    procsum_verify_change *changes; /* pages differing from their file, ascending by address */
    size_t change_count;
} procsum_verify_result;

/*
 * Verifies the process o->pid (0: the calling one) with o's algorithm and
 * region selection. On success *out holds the result (change_count 0: every
 * page checked matches its file); free it with procsum_verify_result_free().
 * PROCSUM_ESRCH when the process does not exist or exits meanwhile,
 * PROCSUM_EACCES or PROCSUM_EPERM when its memory may not be read. *out is
 * zeroed on failure.
 */
PROCSUM_API int procsum_verify(const procsum_options *o, procsum_verify_result *out);
/* r may be NULL; frees what the result holds and zeroes it. */
PROCSUM_API void procsum_verify_result_free(procsum_verify_result *r);

/*
 * A verifier checks many processes in a row, and checks each page-cache
 * page (device, inode, offset) once for all of them: host-wide, at the cost
 * of the code that is unique. It also reads each file page once. Not to be
 * used by two threads at once. o->pid is ignored: each call names its own.
 */
typedef struct procsum_verifier procsum_verifier;
PROCSUM_API int procsum_verifier_new(const procsum_options *o, procsum_verifier **out);
/* As procsum_verify() for `pid` (0: the calling process), sharing what earlier calls checked. */
PROCSUM_API int procsum_verifier_check(procsum_verifier *v, long pid, procsum_verify_result *out);
/* v may be NULL. */
PROCSUM_API void procsum_verifier_free(procsum_verifier *v);

/*
 * A digest cache for options.digest_cache, safe to use from every
 * checker's thread at once. It takes o's algorithm and keyed_digests (a
 * keyed cache draws the key its checkers share), and keeps a page's digest
 * for o->check_period_ms: a change of a shared page is seen by each
 * checker within two periods. Its memory is bounded (about 20 MiB at most,
 * for 128k pages); entries older than a period are replaced. o->pid and
 * the other fields are ignored.
 */
PROCSUM_API int procsum_digest_cache_new(const procsum_options *o, procsum_digest_cache **out);
/* c may be NULL. Only once no checker uses it any more (procsum_stop). */
PROCSUM_API void procsum_digest_cache_free(procsum_digest_cache *c);

/*
 * A runner for options.runner: one thread, started here, on which the
 * checkers given it take turns. It runs at the lowest priority when
 * o->low_priority; the other fields are ignored.
 */
PROCSUM_API int procsum_runner_new(const procsum_options *o, procsum_runner **out);
/*
 * Ends the runner's thread and frees it; r may be NULL. PROCSUM_EBUSY
 * (nothing freed) while a checker given it is not stopped yet, or from a
 * callback on its thread. In a forked child, where its thread is not,
 * nothing is freed.
 */
PROCSUM_API int procsum_runner_free(procsum_runner *r);

/* Words for a code returned by any procsum function; never NULL. */
PROCSUM_API const char *procsum_strerror(int err);
/* The code's symbolic name ("PROCSUM_EINVAL"); never NULL. */
PROCSUM_API const char *procsum_err_name(int err);

/* "blake3", "crc64", "xxh3"; NULL for an unknown value. */
PROCSUM_API const char *procsum_algorithm_name(procsum_algorithm a);
/* Parses such a name; returns 0 or PROCSUM_EINVAL. */
PROCSUM_API int procsum_algorithm_parse(const char *name, procsum_algorithm *out);
/* Digest length in bytes for `a`, or 0 for an unknown value. */
PROCSUM_API size_t procsum_digest_len(procsum_algorithm a);
/*
 * Names of the values of each list above (PROCSUM_VERDICT_MAP and the
 * others), as their third field gives them; "unknown" for a value not in the
 * list.
 */
PROCSUM_API const char *procsum_verdict_name(procsum_verdict v);
PROCSUM_API const char *procsum_file_status_name(procsum_file_status s);
PROCSUM_API const char *procsum_region_kind_name(procsum_region_kind k);
PROCSUM_API const char *procsum_report_kind_name(procsum_report_kind k);
PROCSUM_API const char *procsum_cause_name(procsum_cause c);
PROCSUM_API const char *procsum_copy_name(procsum_copy c);
PROCSUM_API const char *procsum_reference_name(procsum_reference r);
PROCSUM_API const char *procsum_repair_name(procsum_repair r);

PROCSUM_API const char *procsum_version_string(void);

#ifdef __cplusplus
}
#endif
#endif /* PROCSUM_H */
