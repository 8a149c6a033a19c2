# concbench: build, test, bench. `make` builds ./bench; `make test` and `make bench` install
# what is missing first (scripts/deps.sh), so a fresh Debian/Ubuntu box needs nothing else.

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
           -DCB_VERSION=\"$(VERSION)\" -DCB_GIT_REV=\"$(GIT_REV)\" -DCB_CFLAGS="\"$(OPT) $(SAN)\"" -MMD -MP
LDLIBS  += $(PKG_LIBS) $(PY_LIBS) -lpthread -lm
LDFLAGS += $(SAN)

VERSION := 0.1.0
GIT_REV := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)

BUILD   ?= build
LIB_SRC := $(filter-out runners/main.c,$(wildcard runners/*.c)) $(wildcard workloads/*.c) \
           $(wildcard models/*/*.c)
ASM_SRC := $(wildcard models/*/*.S)
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o) $(ASM_SRC:%.S=$(BUILD)/%.o)
TEST_SRC := $(wildcard tests/test_*.c)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)

.PHONY: all build deps test bench bench-quick clean
all: build
build: $(BUILD)/bench $(TEST_BIN)
$(BUILD)/bench: $(BUILD)/runners/main.o $(LIB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
	@ln -sf $(BUILD)/bench bench

$(BUILD)/libconcbench.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<
$(BUILD)/%.o: %.S
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: tests/%.c $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(CRIT_CFLAGS) $(LDFLAGS) -o $@ $< $(LIB_OBJ) $(CRIT_LIBS) $(LDLIBS)

deps:
	@sh scripts/deps.sh

# Tests: every tests/test_*.c is a Criterion binary; each test runs in its own process with
# a timeout. deps first, then a build in a sub-make (so the flags see installed packages).
test: deps
	@$(MAKE) --no-print-directory build
	@fail=0; for t in $(TEST_BIN); do echo "== $$t"; $$t --jobs 2 || fail=1; done; \
	if [ $$fail = 0 ]; then echo "all test binaries passed"; else echo "some tests FAILED"; exit 1; fi

# The benchmark matrix into results/<host>-<utc>/ (QUICK=1 for the short matrix).
bench: deps
	@$(MAKE) --no-print-directory $(BUILD)/bench
	@./$(BUILD)/bench suite $(if $(QUICK),--quick) $(if $(BACKENDS),--backends $(BACKENDS)) $(if $(WORKLOADS),--workloads $(WORKLOADS))

# Result processing (python3, gnuplot): the table and charts of a run folder, and two or
# more run folders compared: make plots RUN=results/<run>; make compare A=... B=... [OUT=dir]
.PHONY: table plots compare
table plots:
	@test -n "$(RUN)" || { echo "usage: make $@ RUN=results/<run>" >&2; exit 2; }
	@python3 scripts/$@ "$(RUN)"
compare:
	@test -n "$(A)" && test -n "$(B)" || { echo "usage: make compare A=results/<run> B=results/<run> [OUT=dir]" >&2; exit 2; }
	@python3 scripts/compare "$(A)" "$(B)" $(if $(OUT),--out "$(OUT)")

clean:
	rm -rf $(BUILD) bench

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
