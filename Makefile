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
# Rooms from the bottom up (docs/architecture.md; scripts/check-includes
# enforces it): a room includes only rooms below it, so each archive links
# after every room that uses it and no --start-group is needed.
PROTO_SRC    := $(wildcard proto/*.c)
CONFIG_SRC   := $(wildcard config/*.c)
X86_SRC      := $(wildcard x86/*.c)
DEVICES_SRC  := $(wildcard devices/*.c)
COMMON_SRC   := $(wildcard vmmd/common/*.c)
SHADOW_SRC   := $(wildcard vmmd/shadow/*.c)
WORKER_SRC   := $(wildcard vmmd/worker/*.c)
SUPER_SRC    := $(filter-out vmmd/main.c,$(wildcard vmmd/*.c))
VMMCTL_SRC   := $(wildcard vmmctl/*.c)

objs = $(patsubst %.c,$(B)/obj/%.o,$(1))

# Top first: the link order.
LIBS := $(B)/libsupervisor.a $(B)/libworker.a $(B)/libshadow.a $(B)/libcommon.a \
        $(B)/libdevices.a $(B)/libx86.a $(B)/libconfig.a $(B)/libproto.a

all: $(B)/vmmd $(B)/vmmctl guests

$(B)/libproto.a:      $(call objs,$(PROTO_SRC))
$(B)/libconfig.a:     $(call objs,$(CONFIG_SRC))
$(B)/libx86.a:        $(call objs,$(X86_SRC))
$(B)/libdevices.a:    $(call objs,$(DEVICES_SRC))
$(B)/libcommon.a:     $(call objs,$(COMMON_SRC))
$(B)/libshadow.a:     $(call objs,$(SHADOW_SRC))
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

# vmmd/main.c is the program: it runs as the supervisor or, re-executed, as
# a worker, so it links every room.
$(B)/vmmd: $(B)/obj/vmmd/main.o $(LIBS)
	$(if $(Q),@echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $< $(LIBS) $(PKG_LIBS) -lseccomp

$(B)/vmmctl: $(call objs,$(VMMCTL_SRC)) $(B)/libproto.a $(B)/libconfig.a
	$(if $(Q),@echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

# --- guests: freestanding kernels built with the host gcc -------------------
GUEST_CFLAGS := -std=gnu11 -O2 -g -ffreestanding -fno-pic -fno-pie -fno-stack-protector \
                -mno-red-zone -mgeneral-regs-only -fno-asynchronous-unwind-tables \
                -nostdinc -I. -Iguests -Iguests/lib $(WARNINGS) -MMD -MP
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
.SECONDARY: $(TEST_SUPPORT)

# Unit tests link only the rooms they test (and those below them, in link
# order), so one room's half-done work never breaks another's tests:
# test_x86_* the x86 room, test_common_* the shared plumbing, test_shadow_*
# the shadow engine, test_worker_* the worker, test_vmmd_* everything, the
# rest devices, config and proto.
BASE_LIBS := $(B)/libdevices.a $(B)/libx86.a $(B)/libconfig.a $(B)/libproto.a
unit_libs = $(strip \
	$(if $(filter test_vmmd_%,$(1)),$(LIBS),\
	$(if $(filter test_worker_%,$(1)),$(B)/libworker.a $(B)/libshadow.a $(B)/libcommon.a $(BASE_LIBS),\
	$(if $(filter test_shadow_%,$(1)),$(B)/libshadow.a $(BASE_LIBS),\
	$(if $(filter test_common_%,$(1)),$(B)/libcommon.a $(BASE_LIBS),\
	$(BASE_LIBS))))))

.SECONDEXPANSION:
$(B)/tests/unit/%: $(B)/obj/tests/unit/%.o $(TEST_SUPPORT) $$(call unit_libs,$$*)
	@mkdir -p $(@D)
	$(if $(Q),@echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $< $(TEST_SUPPORT) $(call unit_libs,$*) $(PKG_LIBS) -lseccomp $(TEST_LIBS)

tests: all $(UNIT_BINS)

check: tests
	$(Q)B=$(B) tests/run-all

check-unit: tests
	$(Q)B=$(B) tests/run-all --unit

# The Linux tier (docs/linux.md): build the test kernel (cached in $(B)/linux)
# and boot it. Minutes where KVM emulates guest CPL0; CI runs it too.
check-linux: all
	$(Q)B=$(B) scripts/build-linux-guest
	$(Q)B=$(B) tests/run-all --linux

# Everything with one summary line: what CI runs (README).
check-all: tests
	$(Q)B=$(B) scripts/build-linux-guest
	$(Q)B=$(B) tests/run-all --with-linux

demo: all
	$(Q)B=$(B) scripts/demo

bench: all
	$(Q)B=$(B) bench/run-all

# --- install -----------------------------------------------------------------
install: all install-packaging
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(DATADIR)/vmmd/guests $(DESTDIR)$(DATADIR)/vmmd/examples
	install -m 0755 $(B)/vmmd $(DESTDIR)$(SBINDIR)/vmmd
	install -m 0755 $(B)/vmmctl $(DESTDIR)$(BINDIR)/vmmctl
	install -m 0644 $(GUEST_ELFS) $(DESTDIR)$(DATADIR)/vmmd/guests/
	@# Examples name their kernel under build/; installed, it is under DATADIR.
	@# linux.json boots the test tier's kernel (build/linux), which is not installed.
	for f in config/examples/*.json; do \
		[ "$${f##*/}" = linux.json ] && continue; \
		sed 's|"build/guests/|"$(DATADIR)/vmmd/guests/|' $$f >$(DESTDIR)$(DATADIR)/vmmd/examples/$${f##*/} && \
		chmod 0644 $(DESTDIR)$(DATADIR)/vmmd/examples/$${f##*/} || exit 1; \
	done

clean:
	rm -rf build build-san

.PHONY: all guests tests check check-unit check-linux check-all demo bench install clean

# === packaging and fuzzing (issue 7) =========================================
# Added targets: install-packaging (part of install), deb, fuzz, fuzz-build.
#
# Where `make install` puts the systemd and man files. With the default
# PREFIX=/usr/local they land in /usr/local/lib/{systemd/system,sysusers.d,
# tmpfiles.d}, which systemd searches too; `make deb` uses PREFIX=/usr and
# Debian 12's /lib/systemd/system for units. vmmd.service's ExecStart is
# rewritten to $(SBINDIR)/vmmd.
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR    ?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR    ?= $(PREFIX)/lib/tmpfiles.d
MANDIR         ?= $(DATADIR)/man
DOCDIR         ?= $(DATADIR)/doc/vmmd

install-packaging:
	install -d $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(TMPFILESDIR) \
		$(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(MANDIR)/man1
	sed 's|/usr/sbin/vmmd|$(SBINDIR)/vmmd|g' packaging/vmmd.service >$(DESTDIR)$(SYSTEMDUNITDIR)/vmmd.service
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/vmmd.service
	install -m 0644 packaging/vmmd.socket $(DESTDIR)$(SYSTEMDUNITDIR)/vmmd.socket
	install -m 0644 packaging/vmmd.sysusers $(DESTDIR)$(SYSUSERSDIR)/vmmd.conf
	install -m 0644 packaging/vmmd.tmpfiles $(DESTDIR)$(TMPFILESDIR)/vmmd.conf
	install -m 0644 packaging/man/vmmd.8 $(DESTDIR)$(MANDIR)/man8/vmmd.8
	install -m 0644 packaging/man/vmmctl.1 $(DESTDIR)$(MANDIR)/man1/vmmctl.1
	install -D -m 0644 packaging/vmmd.json.example $(DESTDIR)$(DATADIR)/vmmd/vmmd.json.example

# A binary .deb from this tree, with dpkg-deb (no debian/ source package):
# $(B)/vmmd_VERSION_ARCH.deb, staged outside $(B) (packaging/mkdeb).
DEB_VERSION ?= $(shell sed -n 's/^\#define VMMD_VERSION "\(.*\)"/\1/p' vmmd/methods_misc.c)
DEB_ARCH    ?= $(shell dpkg --print-architecture 2>/dev/null || echo amd64)

deb: all
	$(Q)MAKE="$(MAKE)" packaging/mkdeb $(B) $(DEB_VERSION) $(DEB_ARCH)

# libFuzzer targets (tests/fuzz/), built with clang into build-fuzz/ and run
# for FUZZ_RUNS inputs each, starting from tests/fuzz/corpus/. New corpus
# entries stay in build-fuzz/corpus/; crashes land in build-fuzz/crashes/
# (copy each into tests/fuzz/regressions/ once fixed: make check replays
# them through tests/unit/test_fuzz_replay.c). Needs clang and
# libclang-rt-14-dev (scripts/deps --fuzz); the normal build needs neither.
FUZZ_CC     ?= clang
FUZZ_B      ?= build-fuzz
FUZZ_RUNS   ?= 1000000
FUZZ_FLAGS  ?= -max_len=1024 -timeout=10 -rss_limit_mb=2048
FUZZ_CFLAGS := -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined \
               -fno-sanitize-recover=all -D_GNU_SOURCE -I. -Iinclude -std=gnu11 \
               $(shell pkg-config --cflags json-c 2>/dev/null)
FUZZ_LIBS   := $(shell pkg-config --libs json-c 2>/dev/null || echo -ljson-c) -lm
FUZZ_TARGETS := proto config virtio

fuzz-build: $(patsubst %,$(FUZZ_B)/fuzz_%,$(FUZZ_TARGETS))

$(FUZZ_B)/fuzz_proto: tests/fuzz/fuzz_proto.c $(PROTO_SRC) $(wildcard proto/*.h)
$(FUZZ_B)/fuzz_config: tests/fuzz/fuzz_config.c $(CONFIG_SRC) $(wildcard config/*.h)
$(FUZZ_B)/fuzz_virtio: tests/fuzz/fuzz_virtio.c devices/virtio_mmio.c devices/virtqueue.c devices/virtio_blk.c \
		       devices/virtio_console.c devices/virtio_rng.c $(wildcard devices/virtio*.h devices/virtqueue.h)
$(FUZZ_B)/fuzz_%:
	@mkdir -p $(@D)
	$(if $(Q),@echo "  FUZZCC  $@")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $(filter %.c,$^) $(FUZZ_LIBS)

fuzz: fuzz-build
	@for t in $(FUZZ_TARGETS); do \
		mkdir -p $(FUZZ_B)/corpus/$$t $(FUZZ_B)/crashes; \
		echo "  FUZZ    $$t: $(FUZZ_RUNS) runs"; \
		UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		ASAN_OPTIONS=malloc_context_size=8:quarantine_size_mb=64 \
		dict=-dict=tests/fuzz/json.dict; [ $$t = virtio ] && dict=; \
		$(FUZZ_B)/fuzz_$$t -runs=$(FUZZ_RUNS) $(FUZZ_FLAGS) $$dict \
			-artifact_prefix=$(FUZZ_B)/crashes/$$t- -print_final_stats=1 \
			$(FUZZ_B)/corpus/$$t tests/fuzz/corpus/$$t tests/fuzz/regressions/$$t \
			>$(FUZZ_B)/fuzz_$$t.log 2>&1 || { tail -n 40 $(FUZZ_B)/fuzz_$$t.log; exit 1; }; \
		grep -E '^stat::number_of_executed_units|^Done' $(FUZZ_B)/fuzz_$$t.log | sed 's/^/    /'; \
	done

.PHONY: install-packaging deb fuzz fuzz-build
# === end of packaging and fuzzing =============================================

-include $(shell find $(B) -path $(B)/linux -prune -o -name '*.d' -type f -print 2>/dev/null)

# === minios (issue 5) ==========================================================
# The teaching OS is not one guests/*.c file: its kernel is every
# guests/minios/*.c and *.S, linked like the other guests (GUEST_CFLAGS,
# guests/lib, guest.ld) into $(B)/guests/minios.elf. Each user program
# guests/minios/user/NAME.c is linked on its own at the user base
# (0x8000000000, guests/minios/user/lib/user.ld) with the user library,
# stripped into NAME.img, and embedded into the kernel by a generated
# images.S (.incbin, 4 KiB aligned): the built-in image table.
MINIOS_DIR      := guests/minios
MINIOS_SRC      := $(wildcard $(MINIOS_DIR)/*.c $(MINIOS_DIR)/*.S)
MINIOS_OBJ      := $(patsubst %,$(B)/%.o,$(MINIOS_SRC))
MINIOS_PROGS    := $(sort $(basename $(notdir $(wildcard $(MINIOS_DIR)/user/*.c))))
MINIOS_UB       := $(B)/guests/minios/user
MINIOS_UCFLAGS  := $(GUEST_CFLAGS) -fpie -I$(MINIOS_DIR) -I$(MINIOS_DIR)/user/lib
MINIOS_ULIB_OBJ := $(MINIOS_UB)/lib/crt0.S.o $(MINIOS_UB)/lib/ulib.c.o \
                   $(MINIOS_UB)/lib/printf.c.o $(MINIOS_UB)/lib/string.c.o
MINIOS_IMGS     := $(patsubst %,$(MINIOS_UB)/%.img,$(MINIOS_PROGS))

guests: $(B)/guests/minios.elf

# User code: -fpie (RIP-relative: linked at 512 GiB with the small code model).
$(MINIOS_UB)/%.c.o: $(MINIOS_DIR)/user/%.c
	@mkdir -p $(@D)
	$(if $(Q),@echo "  USERCC  $<")
	$(Q)$(CC) $(MINIOS_UCFLAGS) -c -o $@ $<

$(MINIOS_UB)/lib/%.c.o: $(MINIOS_DIR)/user/lib/%.c
	@mkdir -p $(@D)
	$(if $(Q),@echo "  USERCC  $<")
	$(Q)$(CC) $(MINIOS_UCFLAGS) -c -o $@ $<

$(MINIOS_UB)/lib/%.S.o: $(MINIOS_DIR)/user/lib/%.S
	@mkdir -p $(@D)
	$(if $(Q),@echo "  USERAS  $<")
	$(Q)$(CC) $(MINIOS_UCFLAGS) -c -o $@ $<

# guests/lib's printf and string functions, built again as user code.
$(MINIOS_UB)/lib/printf.c.o $(MINIOS_UB)/lib/string.c.o: $(MINIOS_UB)/lib/%.c.o: guests/lib/%.c
	@mkdir -p $(@D)
	$(if $(Q),@echo "  USERCC  $<")
	$(Q)$(CC) $(MINIOS_UCFLAGS) -c -o $@ $<

$(MINIOS_UB)/%.elf: $(MINIOS_UB)/%.c.o $(MINIOS_ULIB_OBJ) $(MINIOS_DIR)/user/lib/user.ld
	$(if $(Q),@echo "  USERLD  $@")
	$(Q)$(CC) -nostdlib -static -no-pie -Wl,--build-id=none -Wl,-z,noexecstack \
		-Wl,-z,max-page-size=4096 -T $(MINIOS_DIR)/user/lib/user.ld -o $@ $(filter %.o,$^)

$(MINIOS_UB)/%.img: $(MINIOS_UB)/%.elf
	$(Q)objcopy --strip-all $< $@

# The image table: one .incbin per program, then {name, start, end}[] and a NULL.
$(B)/guests/minios/images.S: $(MINIOS_IMGS) Makefile
	@mkdir -p $(@D)
	$(if $(Q),@echo "  GEN     $@")
	$(Q){ printf '\t.section .rodata.minios_images, "a"\n'; \
	  for p in $(MINIOS_PROGS); do \
	    printf '\t.balign 4096\nimg_%s:\n\t.incbin "%s.img"\n\t.balign 4096\nimg_%s_end:\n' $$p $$p $$p; done; \
	  printf '\t.section .rodata.minios_names, "a"\n'; \
	  for p in $(MINIOS_PROGS); do printf 'name_%s:\n\t.asciz "%s"\n' $$p $$p; done; \
	  printf '\t.section .rodata.minios_table, "a"\n\t.balign 8\n\t.globl minios_images\nminios_images:\n'; \
	  for p in $(MINIOS_PROGS); do printf '\t.quad name_%s, img_%s, img_%s_end\n' $$p $$p $$p; done; \
	  printf '\t.quad 0, 0, 0\n\t.section .note.GNU-stack, "", @progbits\n'; } >$@.tmp
	$(Q)mv $@.tmp $@

$(B)/guests/minios/images.o: $(B)/guests/minios/images.S
	$(if $(Q),@echo "  GUESTAS $<")
	$(Q)$(CC) $(GUEST_CFLAGS) -Wa,-I$(MINIOS_UB) -c -o $@ $<

$(B)/guests/minios.elf: $(MINIOS_OBJ) $(B)/guests/minios/images.o $(GUEST_LIB_OBJ) guests/lib/guest.ld
	$(if $(Q),@echo "  GUESTLD $@")
	$(Q)$(CC) $(GUEST_LDFLAGS) -o $@ $(filter %.o,$^)

# Installed beside the other guests: config/examples/minios-*.json name it.
install: install-minios
install-minios: $(B)/guests/minios.elf
	install -d $(DESTDIR)$(DATADIR)/vmmd/guests
	install -m 0644 $(B)/guests/minios.elf $(DESTDIR)$(DATADIR)/vmmd/guests/

.PHONY: install-minios
.SECONDARY: $(MINIOS_OBJ) $(MINIOS_ULIB_OBJ) $(MINIOS_IMGS) \
            $(patsubst %,$(MINIOS_UB)/%.c.o,$(MINIOS_PROGS)) $(patsubst %,$(MINIOS_UB)/%.elf,$(MINIOS_PROGS))
# === end of minios ============================================================

# === vmmweb (issue 15) =========================================================
# web/ is vmmweb, an HTTP front of vmmd for dashboards, Prometheus and
# scripts: a JSON-RPC client of vmmd like vmmctl, in its own process (no
# HTTP in the root daemon). Its room sits above vmmctl (scripts/check-includes):
# it reuses vmmctl's socket rules and JSON reading, vmmd/common's rpc_peer
# and log, and proto. Unit tests test_web_* link libweb and those.
WEB_SRC    := $(filter-out web/main.c,$(wildcard web/*.c))
WEB_FROM_VMMCTL := $(B)/obj/vmmctl/socket_path.o $(B)/obj/vmmctl/json_util.o
WEB_LIBS   := $(B)/libweb.a $(WEB_FROM_VMMCTL) $(B)/libcommon.a $(B)/libconfig.a $(B)/libproto.a
WEB_STATIC := $(wildcard web/static/*)

all: $(B)/vmmweb
$(B)/libweb.a: $(call objs,$(WEB_SRC))

$(B)/vmmweb: $(B)/obj/web/main.o $(WEB_LIBS)
	$(if $(Q),@echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $< $(WEB_LIBS) $(PKG_LIBS) -lm

$(B)/tests/unit/test_web_%: $(B)/obj/tests/unit/test_web_%.o $(WEB_LIBS) $(BASE_LIBS)
	@mkdir -p $(@D)
	$(if $(Q),@echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $< $(WEB_LIBS) $(BASE_LIBS) $(PKG_LIBS) -lm $(TEST_LIBS)

install: install-web
install-web: $(B)/vmmweb
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(DATADIR)/vmmd/web $(DESTDIR)$(DATADIR)/vmmd/grafana \
		$(DESTDIR)$(DATADIR)/vmmd/python/examples $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(MANDIR)/man8
	install -m 0755 $(B)/vmmweb $(DESTDIR)$(SBINDIR)/vmmweb
	install -m 0644 $(WEB_STATIC) $(DESTDIR)$(DATADIR)/vmmd/web/
	install -m 0644 packaging/grafana/vmmd-dashboard.json $(DESTDIR)$(DATADIR)/vmmd/grafana/
	install -m 0644 clients/python/vmmd.py $(DESTDIR)$(DATADIR)/vmmd/python/
	install -m 0755 clients/python/examples/*.py $(DESTDIR)$(DATADIR)/vmmd/python/examples/
	sed 's|/usr/sbin/vmmweb|$(SBINDIR)/vmmweb|g' packaging/vmmweb.service >$(DESTDIR)$(SYSTEMDUNITDIR)/vmmweb.service
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/vmmweb.service
	install -m 0644 packaging/man/vmmweb.8 $(DESTDIR)$(MANDIR)/man8/vmmweb.8

.PHONY: install-web
# === end of vmmweb =============================================================
