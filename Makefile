# concbench: build, test, bench. `make` builds ./bench; `make test` and `make bench` install
# what is missing first (scripts/deps.sh), so a fresh Debian/Ubuntu box needs nothing else.

VERSION := 0.1.0
CC      ?= cc
CSTD    := -std=c17 -D_GNU_SOURCE
OPT     ?= -O2 -g
WARN    := -Wall -Wextra
SAN     ?=
PKGS    := libuv
PYCONFIG ?= $(shell command -v /usr/bin/python3-config 2>/dev/null || command -v python3-config 2>/dev/null)
PY_CFLAGS := $(if $(PYCONFIG),$(shell $(PYCONFIG) --includes 2>/dev/null))
PY_LIBS   := $(if $(PYCONFIG),$(shell $(PYCONFIG) --embed --ldflags 2>/dev/null))
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CRIT_CFLAGS := $(shell pkg-config --cflags criterion 2>/dev/null)
CRIT_LIBS   := $(shell pkg-config --libs criterion 2>/dev/null)

CFLAGS  += $(CSTD) $(OPT) $(WARN) $(SAN) -Irunners -Iworkloads -Imodels $(PKG_CFLAGS) $(PY_CFLAGS) \
           -DCB_VERSION=\"$(VERSION)\" -DCB_CFLAGS="\"$(OPT) $(SAN)\"" -MMD -MP
# Every frame of a page or more touches each page as it grows, so no frame can jump the
# guard below a task's stack (mn's G stacks, the loops' run stack): workloads, the task API
# and the tests run on those stacks, hence for all objects. mn_stack.c sizes its guards on it.
CFLAGS  += -fstack-clash-protection
LDLIBS  += $(PKG_LIBS) $(PY_LIBS) -lpthread -lm
LDFLAGS += $(SAN)

# The commit the binary is built from, "-dirty" with uncommitted changes, recorded in every row
# and machine.json. It lives in a generated header rewritten only when it changes, so that a
# new commit rebuilds the two objects that use it (a -D flag would not).
GIT_REV := $(shell git describe --always --dirty --abbrev=7 2>/dev/null || echo unknown)

# One build folder per compiler (objects do not record the compiler that made them), so
# `make test CC=clang` builds and tests in build-clang/ beside gcc's build/.
IS_CLANG := $(findstring clang,$(notdir $(CC)))
BUILD   ?= build$(if $(IS_CLANG),-clang)
LIB_SRC := $(filter-out runners/main.c,$(wildcard runners/*.c)) $(wildcard workloads/*.c) \
           $(wildcard models/*/*.c)
ASM_SRC := $(wildcard models/*/*.S)
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o) $(ASM_SRC:%.S=$(BUILD)/%.o)
TEST_SRC := $(wildcard tests/test_*.c)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)

.PHONY: FORCE all build deps fuzz refs test test-run test-asan test-tsan test-valgrind bench clean uv_echo \
        table plots compare
all: build
build: $(BUILD)/bench $(TEST_BIN)
$(BUILD)/bench: $(BUILD)/runners/main.o $(LIB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
	@if [ "$(BUILD)" = build ]; then ln -sf $(BUILD)/bench bench; fi

# Reference echo server (plain libuv callbacks) that io.echo on uv is compared with.
uv_echo: $(BUILD)/uv_echo
	@:
$(BUILD)/uv_echo: workloads/ref/c/uv_echo.c
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(OPT) $(WARN) $(SAN) $(PKG_CFLAGS) $(LDFLAGS) -o $@ $< $(PKG_LIBS)

$(BUILD)/libconcbench.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/gen/rev.h: FORCE
	@mkdir -p $(dir $@)
	@rev='#define CB_GIT_REV "$(GIT_REV)"'; \
	 if [ ! -f $@ ] || [ "$$(cat $@)" != "$$rev" ]; then echo "$$rev" > $@; fi
FORCE:
$(BUILD)/runners/csv.o $(BUILD)/runners/cli.o: $(BUILD)/gen/rev.h
$(BUILD)/runners/csv.o $(BUILD)/runners/cli.o: CFLAGS += -I$(BUILD)/gen

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<
$(BUILD)/%.o: %.S
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: tests/%.c $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -Iworkloads $(CRIT_CFLAGS) $(LDFLAGS) -o $@ $< $(LIB_OBJ) $(CRIT_LIBS) $(LDLIBS)

deps:
	@sh scripts/deps.sh

# Fuzzing (libFuzzer, clang): every tests/fuzz/fuzz_*.c defines LLVMFuzzerTestOneInput under
# CB_FUZZ_MAIN. `make fuzz FUZZ_SECONDS=60` runs each for that long, growing its corpus in
# tests/fuzz/corpus/<name>/; crashes land in build-fuzz/ and belong in the corpus once fixed.
FUZZ_SECONDS ?= 60
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_FLAGS := -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
fuzz: deps
	@$(MAKE) --no-print-directory CC=clang BUILD=build-fuzz SAN="$(FUZZ_FLAGS)" \
	  $(patsubst tests/fuzz/%.c,build-fuzz/fuzz/%,$(FUZZ_SRC))
	@for f in $(patsubst tests/fuzz/fuzz_%.c,%,$(FUZZ_SRC)); do \
	  mkdir -p tests/fuzz/corpus/$$f; echo "== fuzz $$f for $(FUZZ_SECONDS) s"; \
	  ASAN_OPTIONS=detect_leaks=0 build-fuzz/fuzz/fuzz_$$f -max_total_time=$(FUZZ_SECONDS) \
	    -artifact_prefix=build-fuzz/ tests/fuzz/corpus/$$f || exit 1; done
$(BUILD)/fuzz/%: tests/fuzz/%.c $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DCB_FUZZ_MAIN -fsanitize=fuzzer -o $@ $< $(LIB_OBJ) $(LDLIBS)

# Tests: every tests/test_*.c is a Criterion binary; each test runs in its own process with
# a timeout. deps first, then a build in a sub-make (so the flags see installed packages).
# The Go twins are rebuilt where go is installed, so that no test runs a stale twin against
# a harness that speaks another protocol.
test: deps
	@$(MAKE) --no-print-directory build
	@if command -v go >/dev/null; then $(MAKE) --no-print-directory refs; fi
	@$(MAKE) --no-print-directory test-run

# TESTS=test_x narrows the run to some binaries.
TESTS ?= $(notdir $(TEST_BIN))
test-run:
	@fail=0; for t in $(TESTS); do echo "== $$t"; \
	  CB_BENCH=$(BUILD)/bench $(TEST_WRAP) $(BUILD)/tests/$$t $(if $(TEST_ARGS),$(TEST_ARGS),--jobs 2) || fail=1; done; \
	if [ $$fail = 0 ]; then echo "all test binaries passed"; else echo "some tests FAILED"; exit 1; fi

# Sanitizer passes: the whole suite rebuilt in its own folder. Leaks inside libpython are
# the interpreter's own (tests/lsan.supp).
# clang links its sanitizer runtimes into the executable, where mn cannot tell their malloc
# from the program's own text and so never preempts (models/mn/mn_preempt.c): link ASan's
# runtime shared, as gcc does, and the mn tests assert that preemptions happened.
# A comma inside $(if ...) would split its arguments: the clang-only flags live apart.
CLANG_SHARED_ASAN = -shared-libasan -Wl,-rpath,$(shell $(CC) -print-runtime-dir 2>/dev/null)
ASAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined \
              $(if $(IS_CLANG),$(CLANG_SHARED_ASAN))
ASAN_BUILD := build-asan$(if $(IS_CLANG),-clang)
test-asan: deps
	@$(MAKE) --no-print-directory BUILD=$(ASAN_BUILD) SAN="$(ASAN_FLAGS)" build
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=0 \
	 LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0 \
	 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	 $(MAKE) --no-print-directory BUILD=$(ASAN_BUILD) SAN="$(ASAN_FLAGS)" test-run
# Criterion cannot start under TSan (its inheritable arena), so the TSan pass runs the
# end-to-end tests, built normally, against a TSan-built bench: every backend and workload
# of the quick matrix in a TSan process, any report failing its cell. mn preempts by
# switching Gs inside its SIGURG handler, only when the interrupted PC is in the program's
# own text (never in libc or the runtime, models/mn/mn_preempt.c), so the libc calls that
# follow are safe; TSan cannot know that, hence report_signal_unsafe=0. It also switches
# preemption off under TSan: CB_EXPECT_PREEMPT=0 makes e2e check that mn's rows say so.
test-tsan: deps
	@$(MAKE) --no-print-directory build
	@$(MAKE) --no-print-directory BUILD=build-tsan SAN="-fsanitize=thread" build-tsan/bench
	@TSAN_OPTIONS=halt_on_error=1:exitcode=66:second_deadlock_stack=1:report_signal_unsafe=0 \
	 CB_EXPECT_PREEMPT=0 CB_BENCH=build-tsan/bench build/tests/test_e2e --jobs 1 --filter 'e2e/*'
# memcheck over the serial, threads, gil and fork tests (their backends run inside the test
# processes), following every child; Criterion's own allocations are suppressed.
VG_TESTS := test_harness test_threads test_gil test_mp
test-valgrind: deps
	@command -v valgrind >/dev/null || { echo "valgrind is not installed"; exit 1; }
	@$(MAKE) --no-print-directory BUILD=build-vg build
	@$(MAKE) --no-print-directory BUILD=build-vg TEST_WRAP=scripts/valgrind-test \
	  TESTS="$(VG_TESTS)" TEST_ARGS=--jobs=1 test-run

# The benchmark matrix into results/<host>-<utc>/ (QUICK=1 for the short matrix). Its deps
# include the real Go and Node runtimes of go-ref and node-ref (the tests need neither).
bench:
	@sh scripts/deps.sh --refs
	@$(MAKE) --no-print-directory $(BUILD)/bench
	@scripts/run-bench $(if $(QUICK),--quick) $(if $(BACKENDS),--backends $(BACKENDS)) $(if $(WORKLOADS),--workloads $(WORKLOADS)) $(if $(BUDGET_MIN),--budget-min $(BUDGET_MIN))

# Go twins of the workloads (workloads/ref/go/<name>/main.go) -> build/ref/go/<name>.
GO_TWINS := $(patsubst workloads/ref/go/%/main.go,$(BUILD)/ref/go/%,$(wildcard workloads/ref/go/*/main.go))
refs: $(GO_TWINS) $(BUILD)/uv_echo
$(BUILD)/ref/go/%: workloads/ref/go/%/main.go workloads/ref/go/twin/twin.go
	@mkdir -p $(dir $@)
	cd workloads/ref/go/$* && GOFLAGS=-mod=mod GO111MODULE=off go build -o $(abspath $@) .

# Result processing (python3, gnuplot): the table and charts of a run folder, and two or
# more run folders compared: make plots RUN=results/<run>; make compare A=... B=... [OUT=dir]
table plots:
	@test -n "$(RUN)" || { echo "usage: make $@ RUN=results/<run>" >&2; exit 2; }
	@python3 scripts/$@ "$(RUN)"
compare:
	@test -n "$(A)" && test -n "$(B)" || { echo "usage: make compare A=results/<run> B=results/<run> [OUT=dir]" >&2; exit 2; }
	@python3 scripts/compare "$(A)" "$(B)" $(if $(OUT),--out "$(OUT)")

clean:
	rm -rf $(BUILD) bench

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# mp model micro-benchmarks (pipe bandwidth, pool overhead, process start): build/perf/mp_perf
$(BUILD)/perf/%: tests/perf/%.c $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB_OBJ) $(LDLIBS)
