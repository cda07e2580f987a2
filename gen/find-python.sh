#!/bin/sh
# Prints the first Python interpreter that can run gen/: Python 3.11 or later
# (tomllib) with Jinja2. Building the library needs none; `make gen`, the
# generated-code check and the generator's tests do.
for py in "${GEN_PYTHON:-}" python3 /usr/bin/python3 python3.13 python3.12 python3.11; do
    [ -n "$py" ] || continue
    command -v "$py" >/dev/null 2>&1 || continue
    if "$py" -c 'import tomllib, jinja2' >/dev/null 2>&1; then
        command -v "$py"
        exit 0
    fi
done
echo "gen/: no Python 3.11+ with Jinja2 found; install one with:" >&2
echo "    apt-get install python3 python3-jinja2" >&2
echo "false"
exit 1
