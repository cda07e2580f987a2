#!/bin/sh
# Runs every test of each cmocka binary in a process of its own, bounded in
# time, so that a crash or a hang fails that one test and the rest still run.
#   tests/run-unit.sh build/tests/test_loop ...
#   tests/run-unit.sh build/tests/test_tasks:test_a,test_b   (only those tests)
# TEST_TIMEOUT (seconds, default 20) bounds each test; TEST_LAUNCHER, when
# set, is a command each test runs under (check-unit-tsan's setarch -R).
timeout_s=${TEST_TIMEOUT:-20}
failed=0
total=0
for arg in "$@"; do
    # BINARY:TEST1,TEST2 runs only those tests of the binary.
    bin=${arg%%:*}
    if [ "$bin" != "$arg" ]; then
        names=$(echo "${arg#*:}" | tr ',' ' ')
    else
        names=$("$bin" --list) || { echo "FAIL $bin: cannot list its tests"; failed=$((failed + 1)); continue; }
        # A binary whose main() ignores --list runs everything and prints
        # cmocka's banner instead of names: that would pass without a test.
        if [ -z "$names" ] || echo "$names" | grep -qv '^[A-Za-z_][A-Za-z0-9_.-]*$'; then
            echo "FAIL $bin: --list gave no test names"
            failed=$((failed + 1))
            continue
        fi
    fi
    for name in $names; do
        total=$((total + 1))
        # shellcheck disable=SC2086
        out=$(timeout -k 2 "$timeout_s" $TEST_LAUNCHER "$bin" "$name" 2>&1)
        rc=$?
        if [ $rc -ne 0 ]; then
            failed=$((failed + 1))
            [ $rc -eq 124 ] && echo "FAIL $(basename "$bin") $name: timed out after ${timeout_s}s" \
                            || echo "FAIL $(basename "$bin") $name (exit $rc)"
            echo "$out" | sed 's/^/    /'
        fi
    done
done
echo "unit tests: $((total - failed)) of $total passed"
[ $failed -eq 0 ]
