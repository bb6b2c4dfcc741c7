# vmmd — top-level build. Out-of-tree into build/ (or build-san/ with SANITIZE).
# Sources are found by wildcard per folder, so adding a file needs no edit here.

.DELETE_ON_ERROR:
.SUFFIXES:

PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
SBINDIR    ?= $(PREFIX)/sbin
DATADIR    ?= $(PREFIX)/share
DESTDIR    ?=

CC         ?= cc
WERROR     ?= -Werror
WARNINGS   := -Wall -Wextra -Wshadow -Wformat=2 -Wpointer-arith -Wcast-align \
              -Wwrite-strings -Wstrict-prototypes -Wmissing-prototypes \
              -Wundef -Wvla -Wnull-dereference -Wno-unused-parameter \
              -Wno-missing-field-initializers $(WERROR)
CFLAGS     ?= -O2 -g
CPPFLAGS   += -D_GNU_SOURCE -I. -Iinclude
DEPFLAGS    = -MMD -MP
PKGS       := libevent json-c libsystemd
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lZydis -lpthread
TEST_LIBS  := $(shell pkg-config --libs cmocka 2>/dev/null || echo -lcmocka)

ifdef SANITIZE
B          ?= build-san
CFLAGS     += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer
LDFLAGS    += -fsanitize=$(SANITIZE)
else
B          ?= build
endif

ifeq ($(V),1)
Q :=
else
Q := @
endif

ALL_CFLAGS = $(CPPFLAGS) $(PKG_CFLAGS) $(CFLAGS) $(WARNINGS) $(DEPFLAGS) -std=gnu11

# --- libraries, one per room ------------------------------------------------
PROTO_SRC    := $(wildcard proto/*.c)
CONFIG_SRC   := $(wildcard config/*.c)
DEVICES_SRC  := $(wildcard devices/*.c)
WORKER_SRC   := $(wildcard vmmd/worker/*.c)
SUPER_SRC    := $(filter-out vmmd/main.c,$(wildcard vmmd/*.c))
VMMCTL_SRC   := $(wildcard vmmctl/*.c)

objs = $(patsubst %.c,$(B)/obj/%.o,$(1))

LIBS := $(B)/libworker.a $(B)/libsupervisor.a $(B)/libdevices.a \
        $(B)/libconfig.a $(B)/libproto.a

all: $(B)/vmmd $(B)/vmmctl guests

$(B)/libproto.a:      $(call objs,$(PROTO_SRC))
$(B)/libconfig.a:     $(call objs,$(CONFIG_SRC))
$(B)/libdevices.a:    $(call objs,$(DEVICES_SRC))
$(B)/libworker.a:     $(call objs,$(WORKER_SRC))
$(B)/libsupervisor.a: $(call objs,$(SUPER_SRC))

$(B)/%.a:
	@mkdir -p $(@D)
	@rm -f $@
	$(if $(Q),@echo "  AR      $@")
	$(Q)ar rcs $@ $^ $(if $^,,--thin)

$(B)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(if $(Q),@echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

# Archives are listed twice so the link order between rooms never matters.
$(B)/vmmd: $(B)/obj/vmmd/main.o $(LIBS)
	$(if $(Q),@echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $< -Wl,--start-group $(LIBS) -Wl,--end-group $(PKG_LIBS) -lseccomp

$(B)/vmmctl: $(call objs,$(VMMCTL_SRC)) $(B)/libproto.a $(B)/libconfig.a
	$(if $(Q),@echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

# --- guests: freestanding kernels built with the host gcc -------------------
GUEST_CFLAGS := -std=gnu11 -O2 -g -ffreestanding -fno-pic -fno-pie -fno-stack-protector \
                -mno-red-zone -mgeneral-regs-only -fno-asynchronous-unwind-tables \
                -nostdinc -Iguests -Iguests/lib $(WARNINGS) -MMD -MP
GUEST_LDFLAGS := -nostdlib -static -no-pie -Wl,--build-id=none -Wl,-z,noexecstack \
                 -Wl,-z,max-page-size=4096 -T guests/lib/guest.ld
GUEST_LIB_SRC := $(wildcard guests/lib/*.c guests/lib/*.S)
GUEST_LIB_OBJ := $(patsubst %,$(B)/%.o,$(GUEST_LIB_SRC))
GUEST_NAMES   := $(basename $(notdir $(wildcard guests/*.c)))
GUEST_ELFS    := $(patsubst %,$(B)/guests/%.elf,$(GUEST_NAMES))

guests: $(GUEST_ELFS)

$(B)/guests/%.c.o: guests/%.c
	@mkdir -p $(@D)
	$(if $(Q),@echo "  GUESTCC $<")
	$(Q)$(CC) $(GUEST_CFLAGS) -c -o $@ $<

$(B)/guests/%.S.o: guests/%.S
	@mkdir -p $(@D)
	$(if $(Q),@echo "  GUESTAS $<")
	$(Q)$(CC) $(GUEST_CFLAGS) -c -o $@ $<

$(B)/guests/%.elf: $(B)/guests/%.c.o $(GUEST_LIB_OBJ) guests/lib/guest.ld
	$(if $(Q),@echo "  GUESTLD $@")
	$(Q)$(CC) $(GUEST_LDFLAGS) -o $@ $(filter %.o,$^)

# --- tests -------------------------------------------------------------------
UNIT_SRC  := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(B)/tests/unit/%,$(UNIT_SRC))
UNIT_OBJS := $(call objs,$(UNIT_SRC))

# Keep objects between builds (pattern-rule inputs are intermediate by default).
.SECONDARY: $(GUEST_LIB_OBJ) $(patsubst %,$(B)/guests/%.c.o,$(GUEST_NAMES)) $(UNIT_OBJS)
TEST_SUPPORT := $(call objs,$(filter-out $(UNIT_SRC),$(wildcard tests/unit/*.c)))

# Unit tests link only the rooms they test, so one room's half-done work never
# breaks another's tests: test_worker_* also get the worker, test_vmmd_* the
# supervisor and worker, the rest devices, config and proto.
BASE_LIBS := $(B)/libdevices.a $(B)/libconfig.a $(B)/libproto.a
unit_libs = $(if $(filter test_worker_%,$(1)),$(B)/libworker.a $(BASE_LIBS),$(if $(filter test_vmmd_%,$(1)),$(LIBS),$(BASE_LIBS)))

.SECONDEXPANSION:
$(B)/tests/unit/%: $(B)/obj/tests/unit/%.o $(TEST_SUPPORT) $$(call unit_libs,$$*)
	@mkdir -p $(@D)
	$(if $(Q),@echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $< $(TEST_SUPPORT) -Wl,--start-group $(call unit_libs,$*) -Wl,--end-group $(PKG_LIBS) -lseccomp $(TEST_LIBS)

tests: all $(UNIT_BINS)

check: tests
	$(Q)B=$(B) tests/run-all

check-unit: tests
	$(Q)B=$(B) tests/run-all --unit

demo: all
	$(Q)B=$(B) scripts/demo

bench: all
	$(Q)B=$(B) bench/run-all

# --- install -----------------------------------------------------------------
install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(DATADIR)/vmmd/guests $(DESTDIR)$(DATADIR)/vmmd/examples
	install -m 0755 $(B)/vmmd $(DESTDIR)$(SBINDIR)/vmmd
	install -m 0755 $(B)/vmmctl $(DESTDIR)$(BINDIR)/vmmctl
	install -m 0644 $(GUEST_ELFS) $(DESTDIR)$(DATADIR)/vmmd/guests/
	install -m 0644 config/examples/*.json $(DESTDIR)$(DATADIR)/vmmd/examples/

clean:
	rm -rf build build-san

.PHONY: all guests tests check check-unit demo bench install clean

-include $(shell find $(B) -name '*.d' 2>/dev/null)
