# casyncio - Python's asyncio event loop in C.
#
#   make deps       install the Debian packages that are missing
#                   (make deps-cross: what tests the aarch64 stack switch)
#   make            static and shared library, pkg-config file      (build/)
#   make demo       the documentation's four examples, in C
#   make check      everything: generated/ up to date, headers, unit tests
#                   (plain and under ASan+UBSan), conformance against CPython's
#                   recorded traces (make record-conformance re-records them)
#   make gen        re-render generated/ from spec/ (needs Python 3.11 + Jinja2)
#   make record-args  record CPython 3.11.7's answers for the argument table test
#   make bench      benchmarks against CPython's asyncio and uvloop
#   make install PREFIX=/usr/local

PREFIX    ?= /usr/local
CC        ?= cc
SAN_CC    ?= $(shell command -v clang >/dev/null 2>&1 && echo clang || echo $(CC))
BUILD     := build
# The interpreter that renders the spec: one with Jinja2 and tomllib.
GEN_PYTHON = $(shell sh gen/find-python.sh)
# The interpreter that runs the conformance harness (any Python 3): the C
# programs are compared with traces recorded from the target CPython, whose
# version tests/conformance/TARGET names.
PYTHON    ?= python3
CONFORMANCE_TARGET ?= $(shell cat tests/conformance/TARGET)

WARN      := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
CPPFLAGS  += -D_GNU_SOURCE -Iinclude -Igenerated/include -Igenerated/src -Iruntime
CFLAGS    ?= -O2 -g
# The library is optimised across its files (call_soon() runs through the
# generated glue, the loop, the handle and the context code): with gcc, the
# objects are merged by a link-time-optimising partial link into one plain
# object, so programs linking the static library need no LTO themselves.
IS_GCC    := $(shell $(CC) --version 2>/dev/null | grep -q 'Free Software Foundation' && echo yes)
LTO       ?= $(IS_GCC)
LTO_FLAGS := $(if $(filter yes,$(LTO)),-flto=auto)
LIB_CFLAGS = -std=c11 $(WARN) $(CFLAGS) -fPIC -fvisibility=hidden -ftls-model=initial-exec $(LTO_FLAGS)
LDLIBS    := -lev -lcares -lm -lpthread -ldl

RUNTIME_SRC := $(sort $(wildcard runtime/*.c))
GEN_SRC     := $(sort $(wildcard generated/src/*.c))
LIB_SRC     := $(RUNTIME_SRC) $(GEN_SRC)
LIB_OBJ     := $(patsubst %.c,$(BUILD)/obj/%.o,$(LIB_SRC))
SAN_OBJ     := $(patsubst %.c,$(BUILD)/san/%.o,$(LIB_SRC))
HEADERS     := $(wildcard include/*.h include/casyncio/*.h generated/include/casyncio/*.h)
INTERNAL_H  := $(wildcard runtime/*.h generated/src/*.h)

STATIC_LIB  := $(BUILD)/libcasyncio.a
SHARED_LIB  := $(BUILD)/libcasyncio.so
PC_FILE     := $(BUILD)/casyncio.pc

EXAMPLES    := $(patsubst examples/%.c,%,$(sort $(wildcard examples/*.c)))
UNIT_TESTS  := $(patsubst tests/unit/%.c,%,$(sort $(wildcard tests/unit/test_*.c)))
TEST_HEADERS := $(wildcard tests/unit/*.h)

# Test objects are intermediate files of the test binaries; keep them.
.SECONDARY:

.PHONY: all deps deps-cross lib gen check check-gen check-headers check-unit check-unit-san \
        check-conformance record-conformance check-coro check-coro-fallback check-valgrind check-gen-tests check-spec demo bench install \
        check-args record-args \
        clean

all: lib

deps:
	sh tools/install-deps.sh

deps-cross:
	sh tools/install-deps.sh --cross

lib: $(STATIC_LIB) $(SHARED_LIB) $(PC_FILE)

# --- The library ---------------------------------------------------------

$(BUILD)/obj/%.o: %.c $(HEADERS) $(INTERNAL_H)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(LIB_CFLAGS) -c $< -o $@

$(BUILD)/casyncio.o: $(LIB_OBJ)
ifeq ($(LTO),yes)
	$(CC) $(LIB_CFLAGS) -r -nostdlib -flinker-output=nolto-rel $^ -o $@
else
	$(LD) -r $^ -o $@
endif

$(STATIC_LIB): $(BUILD)/casyncio.o
	@rm -f $@
	ar rcs $@ $^

$(SHARED_LIB): $(LIB_OBJ)
	$(CC) $(LIB_CFLAGS) -shared -Wl,-soname,libcasyncio.so.0 -o $@ $^ $(LDLIBS)

# The build tree's copy names PREFIX as of the build; `make install` writes
# the installed one for the PREFIX it installs to.
$(PC_FILE): casyncio.pc.in
	@mkdir -p $(BUILD)
	sed -e 's|@PREFIX@|$(PREFIX)|g' $< > $@

# --- Generated code --------------------------------------------------------

gen:
	$(GEN_PYTHON) gen/generate.py --spec spec --out generated --readme README.md

check-gen:
	$(GEN_PYTHON) gen/generate.py --spec spec --out generated --readme README.md --check

check-gen-tests:
	$(GEN_PYTHON) -m unittest discover -s gen/tests -t . -q

check-spec:
	$(GEN_PYTHON) -m unittest discover -s tests/spec -q

# The public headers compile as C99 -pedantic, C11 and C++, with gcc and
# clang; every argument struct field and prototype is checked by name.
check-headers:
	@mkdir -p $(BUILD)
	@for cc in $(CC) $(SAN_CC); do \
	  for std in c99 c11; do \
	    echo '#include <casyncio.h>' | $$cc $(CPPFLAGS) -std=$$std -pedantic $(WARN) \
	      -fsyntax-only -x c - || exit 1; \
	    $$cc $(CPPFLAGS) -std=$$std -pedantic $(WARN) -Wno-missing-prototypes \
	      -fsyntax-only generated/tests/args_check.c || exit 1; \
	  done; \
	done
	echo '#include <casyncio.h>' | c++ $(CPPFLAGS) -std=c++11 -pedantic -Wall -Wextra \
	  -Werror -fsyntax-only -x c++ -
	@echo "headers: C99, C11 and C++ clean; args_check compiles"

# --- Tests --------------------------------------------------------------------

TEST_CFLAGS = -std=c11 $(WARN) -Wno-missing-prototypes -O1 -g -DAIO_TRACK_OBJECTS
SAN_FLAGS   = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

$(BUILD)/tests/%: tests/unit/%.c $(TEST_HEADERS) $(patsubst %.c,$(BUILD)/tobj/%.o,$(LIB_SRC))
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(TEST_CFLAGS) -rdynamic $< $(patsubst %.c,$(BUILD)/tobj/%.o,$(LIB_SRC)) \
	  -o $@ -lcmocka $(LDLIBS)

$(BUILD)/tobj/%.o: %.c $(HEADERS) $(INTERNAL_H)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(TEST_CFLAGS) -c $< -o $@

$(BUILD)/san-tests/%: tests/unit/%.c $(TEST_HEADERS) $(SAN_OBJ)
	@mkdir -p $(dir $@)
	$(SAN_CC) $(CPPFLAGS) $(TEST_CFLAGS) $(SAN_FLAGS) -rdynamic $< $(SAN_OBJ) -o $@ \
	  -lcmocka $(LDLIBS)

$(BUILD)/san/%.o: %.c $(HEADERS) $(INTERNAL_H)
	@mkdir -p $(dir $@)
	$(SAN_CC) $(CPPFLAGS) $(TEST_CFLAGS) $(SAN_FLAGS) -c $< -o $@

# The portable stack switch (ucontext), which other machines than x86-64 and
# aarch64 get, runs the task tests too.
UCTX_OBJ    = $(patsubst %.c,$(BUILD)/uctx/%.o,$(LIB_SRC))
UCTX_TESTS  := test_tasks test_shared_stack

$(BUILD)/uctx/%.o: %.c $(HEADERS) $(INTERNAL_H)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(TEST_CFLAGS) -DAIO_CORO_UCONTEXT -c $< -o $@

$(BUILD)/uctx-tests/%: tests/unit/%.c $(TEST_HEADERS) $(UCTX_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(TEST_CFLAGS) -DAIO_CORO_UCONTEXT -rdynamic $< $(UCTX_OBJ) -o $@ \
	  -lcmocka $(LDLIBS)

check-coro-fallback: $(addprefix $(BUILD)/uctx-tests/,$(UCTX_TESTS))
	sh tests/run-unit.sh $^

# The stack switch alone: the host's hand-written switch, the ucontext one,
# and the aarch64 one under qemu-user when a cross compiler is installed
# (gcc-aarch64-linux-gnu, libc6-dev-arm64-cross, qemu-user-static).
CORO_TEST = tests/coro/switch_test.c runtime/coro.c
CORO_FLAGS = $(CPPFLAGS) -std=c11 $(WARN) -Wno-missing-prototypes -O2

check-coro: $(CORO_TEST) runtime/coro.h
	@mkdir -p $(BUILD)/coro
	$(CC) $(CORO_FLAGS) $(CORO_TEST) -o $(BUILD)/coro/switch -lpthread
	$(BUILD)/coro/switch
	$(CC) $(CORO_FLAGS) -DAIO_CORO_UCONTEXT $(CORO_TEST) -o $(BUILD)/coro/switch-ucontext -lpthread
	$(BUILD)/coro/switch-ucontext
	@if command -v aarch64-linux-gnu-gcc >/dev/null && command -v qemu-aarch64-static >/dev/null; then \
	  echo "aarch64-linux-gnu-gcc ... (run under qemu-aarch64-static)"; \
	  aarch64-linux-gnu-gcc $(CORO_FLAGS) -static $(CORO_TEST) -o $(BUILD)/coro/switch-aarch64 \
	    -lpthread && qemu-aarch64-static $(BUILD)/coro/switch-aarch64; \
	else \
	  echo "check-coro: aarch64 switch skipped: needs gcc-aarch64-linux-gnu, libc6-dev-arm64-cross, qemu-user-static"; \
	fi

# Valgrind follows tasks across their stacks (each is registered with it):
# the task tests, the resolver's (c-ares, a server thread) and the coroutine
# example run clean under memcheck.
VALGRIND_TESTS := test_tasks test_shared_stack test_gather test_wait test_asyncgen test_run \
                  test_dns
VALGRIND       := valgrind -q --error-exitcode=3

check-valgrind: $(addprefix $(BUILD)/tests/,$(VALGRIND_TESTS)) $(BUILD)/examples/producer_consumer
	@for t in $(VALGRIND_TESTS); do \
	  echo "valgrind $(BUILD)/tests/$$t"; \
	  $(VALGRIND) $(BUILD)/tests/$$t > $(BUILD)/tests/$$t.valgrind.log 2>&1 || \
	    { cat $(BUILD)/tests/$$t.valgrind.log; exit 1; }; \
	done
	$(VALGRIND) $(BUILD)/examples/producer_consumer > /dev/null
	@echo "valgrind: clean"

check-unit: $(addprefix $(BUILD)/tests/,$(UNIT_TESTS))
	sh tests/run-unit.sh $^

check-unit-san: $(addprefix $(BUILD)/san-tests/,$(UNIT_TESTS))
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  sh tests/run-unit.sh $^

check-conformance: $(STATIC_LIB)
	$(PYTHON) tests/conformance/run.py --target $(CONFORMANCE_TARGET) --cc "$(CC)" \
	  --build $(BUILD)/conformance $(CONFORMANCE_ARGS)

# Re-records tests/conformance/traces/<target>/ with the target interpreter
# (refused on any other). Both take CONFORMANCE_ARGS, e.g. '-k NAME -v'.
record-conformance:
	$(PYTHON) tests/conformance/run.py --target $(CONFORMANCE_TARGET) --record $(CONFORMANCE_ARGS)

# The argument table test (tests/args/): every public function, parameter by
# parameter, against the lines CPython 3.11.7 printed for the same calls.
ARGS_TABLE := $(BUILD)/args/args_table

$(ARGS_TABLE): generated/tests/args_table.c tests/args/harness.c tests/args/harness.h $(STATIC_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Itests/args -std=c11 $(WARN) -Wno-missing-prototypes $(CFLAGS) \
	  generated/tests/args_table.c tests/args/harness.c $(STATIC_LIB) -o $@ $(LDLIBS)

check-args: $(ARGS_TABLE)
	$(PYTHON) tests/args/run.py --c $(ARGS_TABLE)

# Records CPython's lines again (after the cases change); refuses any
# interpreter but CPython 3.11.7.
record-args:
	$(PYTHON) tests/args/run.py --record

check: check-gen check-gen-tests check-spec check-headers check-unit check-unit-san \
       check-coro check-coro-fallback check-valgrind check-conformance check-args
	@echo "make check: all passed"

# --- Examples and benchmarks ------------------------------------------------

$(BUILD)/examples/%: examples/%.c $(STATIC_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -std=c11 $(WARN) $(CFLAGS) -rdynamic $< $(STATIC_LIB) -o $@ $(LDLIBS)

demo: $(addprefix $(BUILD)/examples/,$(EXAMPLES))
	@for ex in $^; do echo "== $$ex"; $$ex || exit 1; done

bench: $(STATIC_LIB)
	$(MAKE) -C bench run

# --- Install ------------------------------------------------------------------

install: lib
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/lib/pkgconfig \
	  $(DESTDIR)$(PREFIX)/include/casyncio
	install -m 644 $(STATIC_LIB) $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(SHARED_LIB) $(DESTDIR)$(PREFIX)/lib/libcasyncio.so.0
	ln -sf libcasyncio.so.0 $(DESTDIR)$(PREFIX)/lib/libcasyncio.so
	install -m 644 include/casyncio.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 include/casyncio/*.h generated/include/casyncio/*.h \
	  $(DESTDIR)$(PREFIX)/include/casyncio/
	sed -e 's|@PREFIX@|$(PREFIX)|g' casyncio.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/casyncio.pc

clean:
	rm -rf $(BUILD)
