/* The big libraries both benchmarks load to stand for a realistic process (bench_util.h). */
#include "bench_util.h"

const bench_lib BENCH_LIBS[BENCH_N_LIBS] = {
    {"libLLVM-15", "libllvm15", "/usr/lib/x86_64-linux-gnu/libLLVM-15.so.1"},
    {"libz3", "libz3-4", "/usr/lib/x86_64-linux-gnu/libz3.so.4"},
    {"swrast_dri", "libgl1-mesa-dri", "/usr/lib/x86_64-linux-gnu/dri/swrast_dri.so"},
    {"libx265", "libx265-199", "/usr/lib/x86_64-linux-gnu/libx265.so.199"},
    {"liblapack", "liblapack3", "/usr/lib/x86_64-linux-gnu/liblapack.so.3"},
};
