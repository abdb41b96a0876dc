#!/usr/bin/env bash
# libprocsum links none of the libraries it loads on first need (src/lazylib.h):
# every process that carries it would map them, and each of its forks copy
# them. Reads the NEEDED entries of the built shared library.
# Usage: linked_libs.sh PATH_TO_LIBPROCSUM_SO
set -u
lib=$1
needed=$(readelf -d "$lib" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
passed=0 failed=0
# A listing without the C library was not read right: nothing else would be checked.
if grep -qx 'libc\.so\.[0-9]*' <<<"$needed"; then
    passed=$((passed + 1))
else
    echo "FAIL: no libc among the NEEDED entries of $lib:"; echo "$needed"
    failed=$((failed + 1))
fi
for name in libxxhash libisal libelf libz libcapstone; do
    if grep -q "^$name\.so" <<<"$needed"; then
        echo "FAIL: $lib links $name (it must be loaded on first need)"
        failed=$((failed + 1))
    else
        passed=$((passed + 1))
    fi
done
echo "linked-libs: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
