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

.PHONY: all deps test test-unit bench clean
all: bench

bench: $(BUILD)/bench
	@:
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

clean:
	rm -rf $(BUILD) bench

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
