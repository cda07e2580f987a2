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
#   make check-interop  TCP echo, byte for byte, against CPython asyncio,
#                   uvloop and nc peers, both ways (skips peers not installed);
#                   make check-interop-san: casyncio's side under ASan+UBSan
#   make install    library, headers, casyncio.pc and the CMake package; the
#                   same variables for `make uninstall`: PREFIX (/usr/local),
#                   LIBDIR ($(PREFIX)/lib), INCLUDEDIR ($(PREFIX)/include),
#                   DESTDIR (a staging root)

PREFIX    ?= /usr/local
LIBDIR    ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
CC        ?= cc
SAN_CC    ?= $(shell command -v clang >/dev/null 2>&1 && echo clang || echo $(CC))
BUILD     := build
# The interpreter that renders the spec: one with Jinja2 and tomllib.
GEN_PYTHON = $(shell sh gen/find-python.sh)
# The interpreter that runs the conformance harness (any Python 3): the C
# programs are compared with the traces recorded from each CPython version
# (tests/conformance/traces/<version>/), at that version. CONFORMANCE_TARGET
# (empty: every version with traces) narrows it: 3.8.18, or 3.8.18,3.12.1.
PYTHON    ?= python3
CONFORMANCE_TARGET ?=

WARN      := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
# runtime/ is in layers, each a folder: base (objects, memory, strings,
# exceptions, logging, contextvars) -> loop (the loop, handles, timers, fd
# watchers, signals, the exception handler, policies) -> tasks (futures,
# stacks, tasks and what waits on them) -> net (the resolver, and what
# comes: sockets, transports, servers, streams). A layer includes only its
# own headers and those of the layers below (`make check-layers`).
LAYERS    := base loop tasks net
CPPFLAGS  += -D_GNU_SOURCE -Iinclude -Igenerated/include -Igenerated/src \
             $(addprefix -Iruntime/,$(LAYERS))
CFLAGS    ?= -O2 -g
# The library is optimised across its files (call_soon() runs through the
# generated glue, the loop, the handle and the context code): with gcc, the
# objects are merged by a link-time-optimising partial link into one plain
# object, so programs linking the static library need no LTO themselves.
IS_GCC    := $(shell $(CC) --version 2>/dev/null | grep -q 'Free Software Foundation' && echo yes)
LTO       ?= $(IS_GCC)
LTO_FLAGS := $(if $(filter yes,$(LTO)),-flto=auto)
# Thread-locals use the compiler's default model for position-independent
# code, so that the shared library, and a plugin the static one is linked
# into, can be dlopen()ed: initial-exec would need room in the static TLS
# block, which a dlopen()ed object may not get ("cannot allocate memory in
# static TLS block"). A program linking libcasyncio.a loses next to
# nothing: the linker turns those accesses into local-exec ones (3-5% more
# instructions on the callbacks and await workloads, not measurable in time).
# The shared library pays a __tls_get_addr() call in each function that
# touches them (a 30% slower callbacks workload). TLS_MODEL=initial-exec
# builds both libraries the old way (the shared one then only for programs
# that link it, never for dlopen()).
TLS_MODEL ?=
# The API level (include/casyncio/pyversion.h): the library and its tests see
# every function and argument field of every Python version (AIO__API_ALL);
# examples and other programs compile at the default level, or their own.
API_ALL    = -DAIO__API_ALL
LIB_CFLAGS = -std=c11 $(WARN) $(API_ALL) $(CFLAGS) -fPIC -fvisibility=hidden \
             $(if $(TLS_MODEL),-ftls-model=$(TLS_MODEL)) $(LTO_FLAGS)
LDLIBS    := -lev -lcares -lm -lpthread -ldl

RUNTIME_SRC := $(sort $(foreach l,$(LAYERS),$(wildcard runtime/$(l)/*.c)))
GEN_SRC     := $(sort $(wildcard generated/src/*.c))
LIB_SRC     := $(RUNTIME_SRC) $(GEN_SRC)
LIB_OBJ     := $(patsubst %.c,$(BUILD)/obj/%.o,$(LIB_SRC))
SAN_OBJ     := $(patsubst %.c,$(BUILD)/san/%.o,$(LIB_SRC))
# The public headers: casyncio.h, and casyncio/ from include/ and generated/.
PUBLIC_H    := $(sort $(wildcard include/casyncio/*.h generated/include/casyncio/*.h))

# The version is base.h's CASYNCIO_VERSION_*; the soname carries the major.
version_part = $(shell awk '$$2 == "CASYNCIO_VERSION_$(1)" { print $$3 }' include/casyncio/base.h)
VERSION_MAJOR := $(call version_part,MAJOR)
VERSION     := $(VERSION_MAJOR).$(call version_part,MINOR).$(call version_part,PATCH)
SONAME      := libcasyncio.so.$(VERSION_MAJOR)
SHARED_REAL := libcasyncio.so.$(VERSION)

STATIC_LIB  := $(BUILD)/libcasyncio.a
SHARED_LIB  := $(BUILD)/libcasyncio.so
PC_FILE     := $(BUILD)/casyncio.pc

EXAMPLES    := $(patsubst examples/%.c,%,$(sort $(wildcard examples/*.c)))
# tests/unit follows the same layers; a test is named by its file alone.
UNIT_TESTS  := $(sort $(notdir $(basename $(foreach l,$(LAYERS),$(wildcard tests/unit/$(l)/test_*.c)))))
vpath test_%.c $(addprefix tests/unit/,$(LAYERS))
TEST_CPPFLAGS = -Itests/unit $(addprefix -Itests/unit/,$(LAYERS))

# Test objects are intermediate files of the test binaries; keep them.
.SECONDARY:

.PHONY: all deps deps-cross lib gen check check-gen check-layers check-headers check-unit check-unit-san check-unit-tsan \
        check-conformance record-conformance check-coro check-coro-fallback check-valgrind check-gen-tests check-spec check-versions demo bench check-interop check-interop-san install \
        check-args record-args check-api-level \
        clean

all: lib

deps:
	sh tools/install-deps.sh

deps-cross:
	sh tools/install-deps.sh --cross

lib: $(STATIC_LIB) $(SHARED_LIB) $(PC_FILE)

# --- Dependencies ----------------------------------------------------------
# Every compile writes the headers it read (-MMD -MP) next to its output:
# foo.o gets foo.d, a test binary B gets B.d; they are included at the end.
# Each object tree (obj: the library; tobj, san, uctx: the tests' builds of
# it) and the shared library (so) also depend on build/flags/NAME, which
# holds the command (CMD_NAME); it is rewritten, when the Makefile is read,
# only if that changed: new flags rebuild what they apply to.

DEPFLAGS     = -MMD -MP
BIN_DEPFLAGS = -MF $@.d -MT $@
CMD_obj      = $(CC) $(CPPFLAGS) $(LIB_CFLAGS) $(DEPFLAGS)
CMD_tobj     = $(CC) $(CPPFLAGS) $(TEST_CFLAGS) $(DEPFLAGS)
CMD_san      = $(SAN_CC) $(CPPFLAGS) $(TEST_CFLAGS) $(SAN_FLAGS) $(DEPFLAGS)
CMD_uctx     = $(CC) $(CPPFLAGS) $(TEST_CFLAGS) -DAIO_CORO_UCONTEXT $(DEPFLAGS)
CMD_tsan     = $(SAN_CC) $(CPPFLAGS) $(TEST_CFLAGS) $(TSAN_FLAGS) $(DEPFLAGS)
CMD_so       = $(CC) $(LIB_CFLAGS) $(LDFLAGS) -shared -Wl,-soname,$(SONAME) -Wl,-z,defs \
               -Wl,-z,nodelete
FLAG_SETS    = obj tobj san uctx tsan so

# --- The library ---------------------------------------------------------

$(BUILD)/obj/%.o: %.c $(BUILD)/flags/obj
	@mkdir -p $(dir $@)
	$(CMD_obj) -c $< -o $@

$(BUILD)/casyncio.o: $(LIB_OBJ)
ifeq ($(LTO),yes)
	$(CC) $(LIB_CFLAGS) -r -nostdlib -flinker-output=nolto-rel $^ -o $@
else
	$(LD) -r $^ -o $@
endif

$(STATIC_LIB): $(BUILD)/casyncio.o
	@rm -f $@
	ar rcs $@ $^

# libcasyncio.so.MAJOR.MINOR.PATCH, with the links a program (the soname)
# and the linker (-lcasyncio) look for. -z nodelete: dlclose() leaves it
# loaded, for the threads that used it run its thread-exit hooks (pthread
# keys) whenever they end, and its SIGSEGV handler stays installed.
$(BUILD)/$(SHARED_REAL): $(LIB_OBJ) $(BUILD)/flags/so
	$(CMD_so) -o $@ $(LIB_OBJ) $(LDLIBS)

$(BUILD)/$(SONAME): $(BUILD)/$(SHARED_REAL)
	ln -sf $(SHARED_REAL) $@

$(SHARED_LIB): $(BUILD)/$(SONAME)
	ln -sf $(SONAME) $@

# casyncio.pc from casyncio.pc.in; libdir and includedir are written
# relative to ${prefix} when they lie under it. The build tree's copy names
# PREFIX as of the build; `make install` writes the installed one for the
# PREFIX it installs to.
pc_dir = $(patsubst $(PREFIX)/%,$${prefix}/%,$(1))
render_pc = sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(call pc_dir,$(LIBDIR))|g' \
	-e 's|@INCLUDEDIR@|$(call pc_dir,$(INCLUDEDIR))|g' -e 's|@VERSION@|$(VERSION)|g'

$(PC_FILE): casyncio.pc.in include/casyncio/base.h
	@mkdir -p $(BUILD)
	$(render_pc) $< > $@

# --- Generated code --------------------------------------------------------

gen:
	$(GEN_PYTHON) gen/generate.py --spec spec --out generated --readme README.md

check-gen:
	$(GEN_PYTHON) gen/generate.py --spec spec --out generated --readme README.md --check

check-gen-tests:
	$(GEN_PYTHON) -m unittest discover -s gen/tests -t . -q

check-spec:
	$(GEN_PYTHON) -m unittest discover -s tests/spec -q

# The spec's signatures against every CPython 3.6-3.13 on the machine (those
# absent are skipped, named): existence, parameters and defaults per version.
check-versions:
	$(GEN_PYTHON) gen/check_versions.py --spec spec

# runtime/'s layers: an include never goes up (tools/check-layers.py).
check-layers:
	$(PYTHON) tools/check-layers.py

# The public headers compile as C99 -pedantic, C11 and C++, with gcc and
# clang; every argument struct field and prototype is checked by name.
check-headers:
	@mkdir -p $(BUILD)
	@for cc in $(CC) $(SAN_CC); do \
	  for std in c99 c11; do \
	    echo '#include <casyncio.h>' | $$cc $(CPPFLAGS) -std=$$std -pedantic $(WARN) \
	      -fsyntax-only -x c - || exit 1; \
	    $$cc $(CPPFLAGS) -std=$$std -pedantic $(WARN) $(API_ALL) -Wno-missing-prototypes \
	      -fsyntax-only generated/tests/args_check.c || exit 1; \
	  done; \
	done
	echo '#include <casyncio.h>' | c++ $(CPPFLAGS) -std=c++11 -pedantic -Wall -Wextra \
	  -Werror -fsyntax-only -x c++ -
	@# stdin, stdout and stderr may be macros of expressions (newlib's
	@# (_REENT->_stdin)); musl's are macros too: no field may be named so.
	printf '#define stdin (r_->in)\n#define stdout (r_->out)\n#define stderr (r_->err)\n#include <casyncio.h>\n' | \
	  $(CC) $(CPPFLAGS) -std=c11 -pedantic $(WARN) -fsyntax-only -x c -
	@if command -v musl-gcc >/dev/null 2>&1; then \
	  printf '#include <stdio.h>\n#include <casyncio.h>\n' | \
	    musl-gcc $(CPPFLAGS) -std=c11 -pedantic $(WARN) -fsyntax-only -x c - || exit 1; \
	  echo "headers: musl-gcc clean"; fi
	@echo "headers: C99, C11 and C++ clean; args_check compiles"

# --- Tests --------------------------------------------------------------------

TEST_CFLAGS = -std=c11 $(WARN) $(API_ALL) -Wno-missing-prototypes -O1 -g -DAIO_TRACK_OBJECTS
SAN_FLAGS   = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
TSAN_FLAGS  = -fsanitize=thread -fno-omit-frame-pointer

TOBJ        = $(patsubst %.c,$(BUILD)/tobj/%.o,$(LIB_SRC))

$(BUILD)/tests/%: %.c $(BUILD)/flags/tobj $(TOBJ)
	@mkdir -p $(dir $@)
	$(CMD_tobj) $(TEST_CPPFLAGS) $(BIN_DEPFLAGS) $< $(TOBJ) -o $@ -lcmocka $(LDLIBS)

$(BUILD)/tobj/%.o: %.c $(BUILD)/flags/tobj
	@mkdir -p $(dir $@)
	$(CMD_tobj) -c $< -o $@

$(BUILD)/san-tests/%: %.c $(BUILD)/flags/san $(SAN_OBJ)
	@mkdir -p $(dir $@)
	$(CMD_san) $(TEST_CPPFLAGS) $(BIN_DEPFLAGS) $< $(SAN_OBJ) -o $@ -lcmocka $(LDLIBS)

$(BUILD)/san/%.o: %.c $(BUILD)/flags/san
	@mkdir -p $(dir $@)
	$(CMD_san) -c $< -o $@

# ThreadSanitizer runs the tests whose threads share a loop, a pool or a
# policy (call_soon_threadsafe, signals, the resolver's server thread,
# thread churn in the handle pool and the stack pool, policies per thread,
# the embedding host's feeder thread); the coroutine switch is announced
# to it as fibers (coro.c).
TSAN_OBJ    = $(patsubst %.c,$(BUILD)/tsan/%.o,$(LIB_SRC))
TSAN_TESTS  := test_scheduling test_signals test_dns test_memory test_policy test_release \
               test_embed test_names test_executor test_executor_threads test_subprocess test_bytes \
               test_warnings test_policy_versions
# test_tasks is not among them: TSan keeps a fiber per task (a hundred
# thousand would not fit), and clang 14's fiber support crashes now and
# then on tasks run in a thread that then ends (test_task_other_thread,
# test_task_stacks_outlive_their_thread), which the plain, ASan and
# Valgrind runs check.

$(BUILD)/tsan/%.o: %.c $(BUILD)/flags/tsan
	@mkdir -p $(dir $@)
	$(CMD_tsan) -c $< -o $@

$(BUILD)/tsan-tests/%: %.c $(BUILD)/flags/tsan $(TSAN_OBJ)
	@mkdir -p $(dir $@)
	$(CMD_tsan) $(TEST_CPPFLAGS) $(BIN_DEPFLAGS) $< $(TSAN_OBJ) -o $@ -lcmocka $(LDLIBS)

# ThreadSanitizer runs a program 5-15 times slower: each test gets three
# times the plain limit (TEST_TIMEOUT, 20 s): test_dns's differential with
# glibc over a 100,000-line hosts file took 11 s alone on a loaded machine.
# They run with address-space randomisation off (setarch -R, where it
# works): clang 14's TSan runtime crashes now and then (about 1 run in 40 of
# test_executor's asyncio.run() test) when a randomised mapping lands where
# its shadow memory or a task's stack is expected; never without it.
TSAN_LAUNCHER = $(shell setarch $$(uname -m) -R true 2>/dev/null && echo "setarch $$(uname -m) -R")
check-unit-tsan: $(addprefix $(BUILD)/tsan-tests/,$(TSAN_TESTS))
	TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" TEST_LAUNCHER="$(TSAN_LAUNCHER)" \
	  TEST_TIMEOUT=$$(( $${TEST_TIMEOUT:-20} * 3 )) sh tests/run-unit.sh $^

# The portable stack switch (ucontext), which other machines than x86-64 and
# aarch64 get, runs the task tests too.
UCTX_OBJ    = $(patsubst %.c,$(BUILD)/uctx/%.o,$(LIB_SRC))
UCTX_TESTS  := test_tasks test_shared_stack

$(BUILD)/uctx/%.o: %.c $(BUILD)/flags/uctx
	@mkdir -p $(dir $@)
	$(CMD_uctx) -c $< -o $@

$(BUILD)/uctx-tests/%: %.c $(BUILD)/flags/uctx $(UCTX_OBJ)
	@mkdir -p $(dir $@)
	$(CMD_uctx) $(TEST_CPPFLAGS) $(BIN_DEPFLAGS) $< $(UCTX_OBJ) -o $@ -lcmocka $(LDLIBS)

check-coro-fallback: $(addprefix $(BUILD)/uctx-tests/,$(UCTX_TESTS))
	sh tests/run-unit.sh $^

# The stack switch alone: the host's hand-written switch, the ucontext one,
# and the aarch64 one under qemu-user when a cross compiler is installed
# (gcc-aarch64-linux-gnu, libc6-dev-arm64-cross, qemu-user-static).
CORO_TEST = tests/coro/switch_test.c runtime/tasks/coro.c
CORO_FLAGS = $(CPPFLAGS) -std=c11 $(WARN) -Wno-missing-prototypes -O2

check-coro: $(CORO_TEST) runtime/tasks/coro.h
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
                  test_dns test_executor
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

# The harness's own tests (test_run.py), then every scenario at every
# version with traces; the scripts re-run on the default target's
# interpreter (tests/conformance/TARGET) where installed
# (CONFORMANCE_ARGS=--recheck=all: on every version's).
check-conformance: $(STATIC_LIB)
	CONFORMANCE_LIB=$(STATIC_LIB) $(PYTHON) tests/conformance/test_run.py
	$(PYTHON) tests/conformance/run.py $(if $(CONFORMANCE_TARGET),--target $(CONFORMANCE_TARGET)) \
	  --cc "$(CC)" --build $(BUILD)/conformance $(CONFORMANCE_ARGS)

# Re-records tests/conformance/traces/<version>/ for every version whose
# interpreter is installed here (only CPython X.Y.Z records X.Y.Z). Both take
# CONFORMANCE_ARGS, e.g. '-k NAME -v'.
record-conformance:
	$(PYTHON) tests/conformance/run.py $(if $(CONFORMANCE_TARGET),--target $(CONFORMANCE_TARGET)) \
	  --record $(CONFORMANCE_ARGS)

# The argument table test (tests/args/): every public function, parameter by
# parameter, against the lines CPython 3.11.7 printed for the same calls.
ARGS_TABLE := $(BUILD)/args/args_table

$(ARGS_TABLE): generated/tests/args_table.c tests/args/harness.c tests/args/harness.h $(STATIC_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Itests/args -std=c11 $(WARN) $(API_ALL) -Wno-missing-prototypes $(CFLAGS) \
	  generated/tests/args_table.c tests/args/harness.c $(STATIC_LIB) -o $@ $(LDLIBS)

check-args: $(ARGS_TABLE)
	$(PYTHON) tests/args/run.py --c $(ARGS_TABLE)

# Records CPython's lines again (after the cases change); refuses any
# interpreter but CPython 3.11.7.
record-args:
	$(PYTHON) tests/args/run.py --record

# The API level: a function or argument field newer than AIO_API_LEVEL (or
# removed by it) does not compile, with gcc and clang, C and C++; what the
# level has does; the argument structs are the same at every level.
check-api-level:
	$(PYTHON) tests/api-level/run.py $(addprefix --cc ,$(sort $(CC) $(SAN_CC)))

check: check-gen check-gen-tests check-spec check-versions check-layers check-headers check-api-level check-unit check-unit-san check-unit-tsan \
       check-coro check-coro-fallback check-valgrind check-conformance check-args \
       check-install check-dlopen check-interop
	@echo "make check: all passed"

# --- Examples and benchmarks ------------------------------------------------

$(BUILD)/examples/%: examples/%.c $(STATIC_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -std=c11 $(WARN) $(CFLAGS) $(DEPFLAGS) $(BIN_DEPFLAGS) $< \
	  $(STATIC_LIB) -o $@ $(LDLIBS)

demo: $(addprefix $(BUILD)/examples/,$(EXAMPLES))
	@for ex in $^; do echo "== $$ex"; $$ex || exit 1; done

bench: $(STATIC_LIB)
	$(MAKE) -C bench run

# --- Interop ------------------------------------------------------------------
# casyncio's TCP transports against CPython asyncio's and uvloop's clients
# and servers, and netcat-openbsd, both ways, byte for byte (tests/interop/
# run.py); a peer that is missing makes its cases skip, saying so.

INTEROP_PEER := $(BUILD)/tests/interop/echo_peer

$(INTEROP_PEER): tests/interop/echo_peer.c $(STATIC_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -std=c11 $(WARN) $(CFLAGS) $(DEPFLAGS) $(BIN_DEPFLAGS) $< \
	  $(STATIC_LIB) -o $@ $(LDLIBS)

check-interop: $(INTEROP_PEER)
	$(PYTHON) tests/interop/run.py --peer $(INTEROP_PEER) $(INTEROP_ARGS)

# The same cases with casyncio's side under AddressSanitizer and UBSan.
INTEROP_SAN_PEER := $(BUILD)/san-interop/echo_peer

$(INTEROP_SAN_PEER): tests/interop/echo_peer.c $(BUILD)/flags/san $(SAN_OBJ)
	@mkdir -p $(dir $@)
	$(CMD_san) $(BIN_DEPFLAGS) $< $(SAN_OBJ) -o $@ $(LDLIBS)

check-interop-san: $(INTEROP_SAN_PEER)
	$(PYTHON) tests/interop/run.py --peer $(INTEROP_SAN_PEER) $(INTEROP_ARGS)

# --- Install ------------------------------------------------------------------
# LIBDIR gets libcasyncio.a, libcasyncio.so.MAJOR.MINOR.PATCH and its links,
# pkgconfig/casyncio.pc and cmake/casyncio/ (find_package(casyncio CONFIG));
# INCLUDEDIR gets casyncio.h and casyncio/. `make uninstall` with the same
# PREFIX, LIBDIR, INCLUDEDIR and DESTDIR removes exactly these again.

PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
CMAKEDIR     ?= $(LIBDIR)/cmake/casyncio
INSTALL_TMP  := $(BUILD)/install

# The CMake package finds the prefix from its own directory ("../../.."
# for lib/cmake/casyncio), so a tree copied elsewhere (DESTDIR) still
# works; when CMAKEDIR is not under PREFIX, it names PREFIX.
empty        :=
space        := $(empty) $(empty)
cmake_up     = $(subst $(space),/,$(patsubst %,..,$(subst /, ,$(patsubst $(PREFIX)/%,%,$(CMAKEDIR)))))
cmake_prefix = $(if $(filter $(PREFIX)/%,$(CMAKEDIR)),$${CMAKE_CURRENT_LIST_DIR}/$(cmake_up),$(PREFIX))
cmake_dir    = $(patsubst $(PREFIX)/%,$${_casyncio_prefix}/%,$(1))
render_cmake = sed -e 's|@PREFIX@|$(cmake_prefix)|g' -e 's|@LIBDIR@|$(call cmake_dir,$(LIBDIR))|g' \
	-e 's|@INCLUDEDIR@|$(call cmake_dir,$(INCLUDEDIR))|g' -e 's|@VERSION@|$(VERSION)|g' \
	-e 's|@VERSION_MAJOR@|$(VERSION_MAJOR)|g' -e 's|@SONAME@|$(SONAME)|g' \
	-e 's|@SHARED_REAL@|$(SHARED_REAL)|g' -e 's|@SIZEOF_VOID_P@|$(sizeof_void_p)|g'
sizeof_void_p = $(shell echo __SIZEOF_POINTER__ | $(CC) -E -P - | tail -n 1)

INSTALLED_H = $(DESTDIR)$(INCLUDEDIR)/casyncio.h \
              $(addprefix $(DESTDIR)$(INCLUDEDIR)/casyncio/,$(notdir $(PUBLIC_H)))
CMAKE_FILES = casyncio-config.cmake casyncio-config-version.cmake

.PHONY: uninstall

install: lib
	@mkdir -p $(INSTALL_TMP)
	@echo "casyncio.pc, $(CMAKE_FILES) for $(PREFIX) (in $(INSTALL_TMP))"
	@$(render_pc) casyncio.pc.in > $(INSTALL_TMP)/casyncio.pc
	@$(render_cmake) cmake/casyncio-config.cmake.in > $(INSTALL_TMP)/casyncio-config.cmake
	@$(render_cmake) cmake/casyncio-config-version.cmake.in \
	  > $(INSTALL_TMP)/casyncio-config-version.cmake
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(CMAKEDIR) \
	  $(DESTDIR)$(INCLUDEDIR)/casyncio
	install -m 644 $(STATIC_LIB) $(DESTDIR)$(LIBDIR)/
	install -m 755 $(BUILD)/$(SHARED_REAL) $(DESTDIR)$(LIBDIR)/
	ln -sfn $(SHARED_REAL) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sfn $(SONAME) $(DESTDIR)$(LIBDIR)/libcasyncio.so
	install -m 644 include/casyncio.h $(DESTDIR)$(INCLUDEDIR)/
	install -m 644 $(PUBLIC_H) $(DESTDIR)$(INCLUDEDIR)/casyncio/
	install -m 644 $(INSTALL_TMP)/casyncio.pc $(DESTDIR)$(PKGCONFIGDIR)/
	install -m 644 $(addprefix $(INSTALL_TMP)/,$(CMAKE_FILES)) $(DESTDIR)$(CMAKEDIR)/

# The links go only while they still point where install made them point
# (another version installed since keeps its own); the directories only
# when empty.
uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/libcasyncio.a $(DESTDIR)$(LIBDIR)/$(SHARED_REAL) \
	  $(DESTDIR)$(PKGCONFIGDIR)/casyncio.pc $(addprefix $(DESTDIR)$(CMAKEDIR)/,$(CMAKE_FILES)) \
	  $(INSTALLED_H)
	@for link in $(SONAME):$(SHARED_REAL) libcasyncio.so:$(SONAME); do \
	  name=$(DESTDIR)$(LIBDIR)/$${link%%:*}; \
	  if [ -L "$$name" ] && [ "$$(readlink "$$name")" = "$${link#*:}" ]; then \
	    echo "rm -f $$name"; rm -f "$$name"; \
	  fi; \
	done
	@for dir in $(DESTDIR)$(INCLUDEDIR)/casyncio $(DESTDIR)$(CMAKEDIR); do \
	  if [ -d "$$dir" ]; then rmdir "$$dir" 2>/dev/null && echo "rmdir $$dir" || \
	    echo "uninstall: $$dir is not empty: left in place"; fi; \
	done

# --- Packaging tests ------------------------------------------------------------
# check-install: make install into stages under build/packaging, build a
# consumer from them with pkg-config and CMake (shared and static) and run
# it, make uninstall. check-dlopen: the shared library, and a plugin with
# the static one inside, dlopen()ed by a program that links neither.

.PHONY: check-install check-dlopen

check-install: lib
	sh tests/packaging/check-install.sh $(BUILD) "$(CC)" "$(MAKE)" $(VERSION)

check-dlopen: lib
	sh tests/packaging/check-dlopen.sh $(BUILD) "$(CC)"

clean:
	rm -rf $(BUILD)

# --- Build commands and header dependencies (see "Dependencies") -----------
# (not for goals that build nothing: `sudo make uninstall` leaves build/ be)
NO_BUILD_GOALS := clean uninstall deps deps-cross
ifneq ($(MAKECMDGOALS),$(filter $(NO_BUILD_GOALS),$(MAKECMDGOALS)))
shquote = '$(subst ','\'',$(1))'
$(foreach set,$(FLAG_SETS),$(shell mkdir -p $(BUILD)/flags && \
  { echo $(call shquote,$(CMD_$(set))) | cmp -s - $(BUILD)/flags/$(set) || \
    echo $(call shquote,$(CMD_$(set))) > $(BUILD)/flags/$(set); }))
endif
-include $(wildcard $(patsubst %.o,%.d,$(LIB_OBJ) $(TOBJ) $(SAN_OBJ) $(UCTX_OBJ) $(TSAN_OBJ)) \
                    $(addsuffix /*.d,$(addprefix $(BUILD)/,tests san-tests uctx-tests tsan-tests \
                                                          examples)))
