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
           -DCB_VERSION=\"$(VERSION)\" -DCB_GIT_REV=\"$(GIT_REV)\" -MMD -MP
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

.PHONY: all deps test test-unit bench clean
all: bench

bench: $(BUILD)/bench
	@:
$(BUILD)/bench: $(BUILD)/runners/main.o $(BUILD)/libconcbench.a
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

$(BUILD)/tests/%: tests/%.c $(BUILD)/libconcbench.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(CRIT_CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libconcbench.a $(CRIT_LIBS) $(LDLIBS)

deps:
	@sh scripts/deps.sh

clean:
	rm -rf $(BUILD) bench

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# fuzz: run the mp frame-decoder fuzzer (clang's libFuzzer) on the kept corpus for
# FUZZ_SECONDS; new inputs it finds are added to tests/fuzz/corpus/mp_frame.
FUZZ_SECONDS ?= 60
.PHONY: fuzz
fuzz: $(BUILD)/fuzz/fuzz_mp_frame
	$(BUILD)/fuzz/fuzz_mp_frame -max_total_time=$(FUZZ_SECONDS) -max_len=4096 tests/fuzz/corpus/mp_frame
$(BUILD)/fuzz/fuzz_mp_frame: tests/fuzz/fuzz_mp_frame.c models/mp/mp_frame.c models/mp/mp_frame.h
	@mkdir -p $(dir $@)
	clang -std=c17 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -Imodels -o $@ $(filter %.c,$^)
