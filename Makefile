# vmmd — top-level build. Out-of-tree into $(B): build/ (or build-san/ with
# SANITIZE). Sources are found by wildcard per room, so adding a file needs
# no edit here. Sections: configuration, the rooms' libraries, programs
# (vmmd, vmmctl, vmmweb), guests, minios, tests, fuzzing, install,
# packaging, clean.

.DELETE_ON_ERROR:
.SUFFIXES:

# === configuration ==============================================================

PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
SBINDIR    ?= $(PREFIX)/sbin
DATADIR    ?= $(PREFIX)/share
DESTDIR    ?=

# One version for the daemon (vmm.version, rpc.discover), the man pages and
# the Debian package.
VERSION    := $(shell cat VERSION)

CC         ?= cc
WERROR     ?= -Werror
WARNINGS   := -Wall -Wextra -Wshadow -Wformat=2 -Wpointer-arith -Wcast-align \
              -Wwrite-strings -Wstrict-prototypes -Wmissing-prototypes \
              -Wundef -Wvla -Wnull-dereference -Wno-unused-parameter \
              -Wno-missing-field-initializers $(WERROR)
CFLAGS     ?= -O2 -g
CPPFLAGS   += -D_GNU_SOURCE -I. -DVMMD_VERSION='"$(VERSION)"'
DEPFLAGS    = -MMD -MP

# What vmmd links, found by pkg-config; Zydis ships no .pc file, so its
# header is probed. A missing one stops make here, naming the package
# (scripts/deps installs them all), rather than at the first link.
# liblzma, zlib, libzstd, liblz4: the Xen PV loader unpacks a bzImage's payload (vmmd/xenpv/kernel_image.c).
PKGS       := libevent json-c libsystemd libseccomp liblzma zlib libzstd liblz4
ifeq ($(filter clean,$(MAKECMDGOALS)),)
MISSING    := $(strip $(foreach p,$(PKGS),$(if $(shell pkg-config --exists $(p) && echo y),,$(p))))
ifneq ($(MISSING),)
$(error pkg-config does not find: $(MISSING) (install their -dev packages: scripts/deps))
endif
ifneq ($(shell echo '\#include <Zydis/Zydis.h>' | $(CC) -E -x c - >/dev/null 2>&1 && echo y),y)
$(error Zydis/Zydis.h not found (package libzydis-dev: scripts/deps))
endif
endif
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   := $(shell pkg-config --libs $(PKGS)) -lZydis -lpthread

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

all: $(B)/vmmd $(B)/vmmctl $(B)/vmmweb guests

# === libraries: one per room ====================================================
# Rooms from the bottom up (docs/architecture.md; scripts/check-includes
# enforces it): a room includes only rooms below it, so each archive links
# after every room that uses it, and no link group hides a cycle. base/ and
# abi/ are headers only.
PROTO_SRC    := $(wildcard proto/*.c)
CONFIG_SRC   := $(wildcard config/*.c)
X86_SRC      := $(wildcard x86/*.c)
DEVICES_SRC  := $(wildcard devices/*.c)
COMMON_SRC   := $(wildcard vmmd/common/*.c)
SHADOW_SRC   := $(wildcard vmmd/shadow/*.c)
XENPV_SRC    := $(wildcard vmmd/xenpv/*.c)
WORKER_SRC   := $(wildcard vmmd/worker/*.c)
SUPER_SRC    := $(filter-out vmmd/main.c,$(wildcard vmmd/*.c))
VMMCTL_SRC   := $(filter-out vmmctl/main.c,$(wildcard vmmctl/*.c))
WEB_SRC      := $(filter-out web/main.c,$(wildcard web/*.c))

objs = $(patsubst %.c,$(B)/obj/%.o,$(1))
ALL_OBJS := $(call objs,$(PROTO_SRC) $(CONFIG_SRC) $(X86_SRC) $(DEVICES_SRC) $(COMMON_SRC) $(SHADOW_SRC) \
                        $(XENPV_SRC) $(WORKER_SRC) $(SUPER_SRC) $(VMMCTL_SRC) $(WEB_SRC) vmmd/main.c vmmctl/main.c \
                        web/main.c)

$(B)/libproto.a:      $(call objs,$(PROTO_SRC))
$(B)/libconfig.a:     $(call objs,$(CONFIG_SRC))
$(B)/libx86.a:        $(call objs,$(X86_SRC))
$(B)/libdevices.a:    $(call objs,$(DEVICES_SRC))
$(B)/libcommon.a:     $(call objs,$(COMMON_SRC))
$(B)/libshadow.a:     $(call objs,$(SHADOW_SRC))
$(B)/libxenpv.a:      $(call objs,$(XENPV_SRC))
$(B)/libworker.a:     $(call objs,$(WORKER_SRC))
$(B)/libsupervisor.a: $(call objs,$(SUPER_SRC))
$(B)/libvmmctl.a:     $(call objs,$(VMMCTL_SRC))
$(B)/libweb.a:        $(call objs,$(WEB_SRC))

# Each room's archive, then every room below it: what links against the room.
lib = $(addprefix $(B)/lib,$(addsuffix .a,$(1)))
LOW_ROOMS        := devices x86 config proto
ROOMS_common     := common $(LOW_ROOMS)
ROOMS_shadow     := shadow $(LOW_ROOMS)
ROOMS_xenpv      := xenpv shadow $(LOW_ROOMS)
ROOMS_worker     := worker xenpv shadow common $(LOW_ROOMS)
ROOMS_vmmd       := supervisor $(ROOMS_worker)
ROOMS_vmmctl     := vmmctl config proto
ROOMS_web        := web vmmctl common config proto   # vmmctl's socket rules and JSON reading, rpc_peer and log
ROOMS_fuzz       := $(ROOMS_worker)   # test_fuzz_replay: every fuzz target (rpc_peer, the loaders)

$(B)/%.a:
	@mkdir -p $(@D)
	@rm -f $@
	$(if $(Q),@echo "  AR      $@")
	$(Q)ar rcs $@ $^ $(if $^,,--thin)

# Every object depends on VERSION, which reaches it as -DVMMD_VERSION.
$(B)/obj/%.o: %.c VERSION
	@mkdir -p $(@D)
	$(if $(Q),@echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

# === programs ===================================================================

# vmmd/main.c is the program: it runs as the supervisor or, re-executed, as
# a worker, so it links every room.
$(B)/vmmd: $(B)/obj/vmmd/main.o $(call lib,$(ROOMS_vmmd))
	$(if $(Q),@echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(B)/vmmctl: $(B)/obj/vmmctl/main.o $(call lib,$(ROOMS_vmmctl))
	$(if $(Q),@echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

# vmmweb: an HTTP front of vmmd for dashboards, Prometheus and scripts, a
# JSON-RPC client of vmmd like vmmctl in its own process (no HTTP in the
# root daemon). Its pages are web/static/.
WEB_STATIC := $(wildcard web/static/*)

$(B)/vmmweb: $(B)/obj/web/main.o $(call lib,$(ROOMS_web))
	$(if $(Q),@echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm

# === guests: freestanding kernels built with the host gcc =======================
GUEST_CFLAGS := -std=gnu11 -O2 -g -ffreestanding -fno-pic -fno-pie -fno-stack-protector \
                -mno-red-zone -mgeneral-regs-only -fno-asynchronous-unwind-tables \
                -nostdinc -I. -Iguests -Iguests/lib $(WARNINGS) -MMD -MP
GUEST_LDFLAGS := -nostdlib -static -no-pie -Wl,--build-id=none -Wl,-z,noexecstack \
                 -Wl,-z,max-page-size=4096 -T guests/lib/guest.ld
GUEST_LIB_SRC := $(wildcard guests/lib/*.c guests/lib/*.S)
GUEST_LIB_OBJ := $(patsubst %,$(B)/%.o,$(GUEST_LIB_SRC))
GUEST_NAMES   := $(basename $(notdir $(wildcard guests/*.c)))
GUEST_ELFS    := $(patsubst %,$(B)/guests/%.elf,$(GUEST_NAMES))

guests: $(GUEST_ELFS) $(B)/guests/minios.elf

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

# === minios: the teaching OS =====================================================
# Its kernel is every guests/minios/*.c and *.S, linked like the other
# guests (GUEST_CFLAGS, guests/lib, guest.ld) into $(B)/guests/minios.elf.
# Each user program guests/minios/user/NAME.c is linked on its own at the
# user base (0x8000000000, guests/minios/user/lib/user.ld) with the user
# library, stripped into NAME.img, and embedded into the kernel by a
# generated images.S (.incbin, 4 KiB aligned): the built-in image table.
MINIOS_DIR      := guests/minios
MINIOS_SRC      := $(wildcard $(MINIOS_DIR)/*.c $(MINIOS_DIR)/*.S)
MINIOS_OBJ      := $(patsubst %,$(B)/%.o,$(MINIOS_SRC))
MINIOS_PROGS    := $(sort $(basename $(notdir $(wildcard $(MINIOS_DIR)/user/*.c))))
MINIOS_UB       := $(B)/guests/minios/user
MINIOS_UCFLAGS  := $(GUEST_CFLAGS) -fpie -I$(MINIOS_DIR) -I$(MINIOS_DIR)/user/lib
MINIOS_ULIB_OBJ := $(MINIOS_UB)/lib/crt0.S.o $(MINIOS_UB)/lib/ulib.c.o \
                   $(MINIOS_UB)/lib/printf.c.o $(MINIOS_UB)/lib/string.c.o
MINIOS_IMGS     := $(patsubst %,$(MINIOS_UB)/%.img,$(MINIOS_PROGS))

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

# === isa: the differential suite's guest (issue 12) ==============================
# guests/isa/ (tests/e2e/test_isa.py): every guests/isa/*.c and *.S with
# guests/lib, linked by guest.ld into $(B)/guests/isa.elf. Its user-mode code
# is one section of snippets.S. No rep-string copies in its C: where KVM
# emulates guest CPL0 code each iteration is a round trip (the hw-mode run
# time of test_isa.py).
ISA_SRC := $(wildcard guests/isa/*.c guests/isa/*.S)
ISA_OBJ := $(patsubst %,$(B)/%.o,$(ISA_SRC))

guests: $(B)/guests/isa.elf
$(ISA_OBJ): GUEST_CFLAGS += -mstringop-strategy=unrolled_loop

$(B)/guests/isa.elf: $(ISA_OBJ) $(GUEST_LIB_OBJ) guests/lib/guest.ld
	$(if $(Q),@echo "  GUESTLD $@")
	$(Q)$(CC) $(GUEST_LDFLAGS) -o $@ $(filter %.o,$^)

.SECONDARY: $(ISA_OBJ)

# === tests ======================================================================
UNIT_SRC  := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(B)/tests/unit/%,$(UNIT_SRC))
UNIT_OBJS := $(call objs,$(UNIT_SRC))
TEST_SUPPORT := $(call objs,$(filter-out $(UNIT_SRC),$(wildcard tests/unit/*.c)))
TEST_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null)

# Keep objects between builds (pattern-rule inputs are intermediate by default).
.SECONDARY: $(GUEST_LIB_OBJ) $(patsubst %,$(B)/guests/%.c.o,$(GUEST_NAMES)) $(UNIT_OBJS) $(TEST_SUPPORT) \
            $(MINIOS_OBJ) $(MINIOS_ULIB_OBJ) $(MINIOS_IMGS) \
            $(patsubst %,$(MINIOS_UB)/%.c.o,$(MINIOS_PROGS)) $(patsubst %,$(MINIOS_UB)/%.elf,$(MINIOS_PROGS))

# A unit test links only its room and those below it (test_ROOM_*: the ROOMS_
# list above), so one room's half-done work never breaks another's tests;
# the low rooms always, which the shared fakes (TEST_SUPPORT) use.
unit_room = $(word 2,$(subst _, ,$(1)))
unit_libs = $(call lib,$(ROOMS_$(call unit_room,$(1))) $(LOW_ROOMS))

.SECONDEXPANSION:
$(B)/tests/unit/%: $(B)/obj/tests/unit/%.o $(TEST_SUPPORT) $$(call unit_libs,$$*) | need-cmocka
	@mkdir -p $(@D)
	$(if $(Q),@echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $< $(TEST_SUPPORT) $(call unit_libs,$*) $(PKG_LIBS) -lm $(TEST_LIBS)

need-cmocka:
	@pkg-config --exists cmocka || { echo "Makefile: pkg-config does not find cmocka (package libcmocka-dev: scripts/deps)" >&2; exit 1; }

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

# A bounded soak on loopback Unix sockets (issue 14): hostile and slow
# clients beside an admin who must keep getting answers under 50 ms p99
# while every VM keeps running; prints clients held, requests served and
# vmmd's memory peak (docs/operations.md). LOAD_SECONDS=30 by default.
check-load: all
	$(Q)B=$(B) python3 tests/load/check_load.py
# The README's commands on a fresh debootstrapped Debian 12, as root
# (scripts/check-fresh, docs/testing.md); CI runs it after check-all.
check-fresh:
	$(Q)B=$(B) scripts/check-fresh

# vmmd on AMD-V with nested paging emulated by QEMU TCG: Debian's kernel and
# its kvm-amd inside, vmmd's tests on top (tests/nested/run, docs/testing.md).
# check-nested is CI's bounded set (check-long runs the full one);
# bench-nested measures B6 there (bench/results/host-tcg-svm).
check-nested: all
	$(Q)B=$(B) scripts/build-linux-guest
	$(Q)B=$(B) tests/nested/run

bench-nested: all
	$(Q)B=$(B) tests/nested/run --bench B6
	$(Q)mkdir -p bench/results/host-tcg-svm
	$(Q)cp $(B)/nested/results/B6.json bench/results/host-tcg-svm/B6.json
	$(Q)python3 bench/report.py

demo: all
	$(Q)B=$(B) scripts/demo

# Debian's stock kernel as a Xen PV guest in shadow mode, to a busybox
# shell (docs/xenpv.md): scripts/get-debian-kernel first.
demo-linux: all
	$(Q)B=$(B) scripts/demo-linux

# The busybox initramfs Linux guests boot into (scripts/build-initramfs),
# part of `all` where a static busybox is installed (busybox-static).
BUSYBOX_STATIC := $(shell f=$$(command -v busybox) && file -L "$$f" 2>/dev/null | grep -q 'statically linked' && echo yes)
ifeq ($(BUSYBOX_STATIC),yes)
all: $(B)/initramfs/busybox.cpio.gz
endif
$(B)/initramfs/busybox.cpio.gz: scripts/build-initramfs tests/linux/mkinitramfs.py
	$(Q)B=$(B) scripts/build-initramfs $@ >/dev/null

# What CI leaves out for time: the Linux tier with its full counts (1,000
# fork+exec per Xen PV boot, one to two seconds each here: most of an hour),
# the isa differential suite with 50000 cases for each of three seeds
# (make check runs 5000 of seed 1), every test the nested tier can run
# (tests/nested/long.list), and the README's test command itself on a
# fresh Debian root (check-fresh --full).
check-long: tests
	$(Q)B=$(B) scripts/build-linux-guest
	$(Q)B=$(B) PV_FORKS=1000 tests/run-all --linux
	$(Q)B=$(B) ISA_CASES=$${ISA_CASES:-50000} ISA_SEED=$${ISA_SEED:-1,2,3} python3 tests/e2e/test_isa.py
	$(Q)B=$(B) tests/nested/run --list tests/nested/long.list
	$(Q)B=$(B) scripts/check-fresh --full

bench: all
	$(Q)B=$(B) bench/run-all

# === fuzzing ====================================================================
# libFuzzer targets (tests/fuzz/), built with clang into $(FUZZ_B) and run
# for FUZZ_RUNS inputs each, starting from tests/fuzz/corpus/. New corpus
# entries stay in $(FUZZ_B)/corpus/; crashes land in $(FUZZ_B)/crashes/
# (copy each into tests/fuzz/regressions/ once fixed: make check replays
# them through tests/unit/test_fuzz_replay.c). Needs clang and
# libclang-rt-14-dev (scripts/deps --fuzz); the normal build needs neither.
FUZZ_CC     ?= clang
FUZZ_B      ?= build-fuzz
FUZZ_RUNS   ?= 1000000
FUZZ_FLAGS  ?= -max_len=1024 -timeout=10 -rss_limit_mb=2048
FUZZ_CFLAGS := -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined \
               -fno-sanitize-recover=all -D_GNU_SOURCE -I. -std=gnu11 \
               $(shell pkg-config --cflags json-c 2>/dev/null)
FUZZ_LIBS   := $(shell pkg-config --libs json-c libevent 2>/dev/null || echo -ljson-c -levent) -lm
FUZZ_TARGETS := proto config virtio peer loader devices daemon_config shadow

fuzz-build: $(patsubst %,$(FUZZ_B)/fuzz_%,$(FUZZ_TARGETS))

$(FUZZ_B)/fuzz_proto: tests/fuzz/fuzz_proto.c $(PROTO_SRC) $(wildcard proto/*.h)
$(FUZZ_B)/fuzz_config: tests/fuzz/fuzz_config.c $(CONFIG_SRC) $(wildcard config/*.h) tests/fuzz/daemon_config_check.h
$(FUZZ_B)/fuzz_virtio: tests/fuzz/fuzz_virtio.c devices/virtio_mmio.c devices/virtqueue.c devices/virtio_blk.c \
		       devices/virtio_console.c devices/virtio_rng.c $(wildcard devices/virtio*.h devices/virtqueue.h)
$(FUZZ_B)/fuzz_peer: tests/fuzz/fuzz_peer.c vmmd/common/rpc_peer.c vmmd/common/log.c \
		     vmmd/common/worker_protocol.c $(PROTO_SRC) $(wildcard proto/*.h vmmd/common/*.h)
$(FUZZ_B)/fuzz_loader: tests/fuzz/fuzz_loader.c vmmd/worker/elf_loader.c vmmd/worker/image_file.c \
		       vmmd/worker/linux_boot.c vmmd/worker/linux_pvh.c vmmd/worker/linux_bzimage.c \
		       vmmd/worker/mptable.c vmmd/worker/guest_memory.c vmmd/worker/boot.c vmmd/xenpv/notes.c \
		       $(wildcard vmmd/worker/elf_loader.h vmmd/worker/linux_boot.h vmmd/worker/boot.h)
$(FUZZ_B)/fuzz_devices: tests/fuzz/fuzz_devices.c devices/uart16550.c devices/pit8254.c devices/pic8259.c \
			devices/cmos_rtc.c devices/i8042.c $(wildcard devices/*.h)
$(FUZZ_B)/fuzz_daemon_config: tests/fuzz/fuzz_daemon_config.c $(CONFIG_SRC) $(wildcard config/*.h) \
			      tests/fuzz/daemon_config_check.h
# The shadow engine with the walker, the decoder and an empty bus, on the unit
# tests' fake CPU (tests/fuzz/fuzz_shadow.c).
$(FUZZ_B)/fuzz_shadow: tests/fuzz/fuzz_shadow.c $(SHADOW_SRC) $(X86_SRC) devices/bus.c tests/unit/shadow_fake_cpu.c \
		       $(wildcard vmmd/shadow/*.h x86/*.h) tests/unit/shadow_fake_cpu.h
$(FUZZ_B)/fuzz_shadow: FUZZ_LIBS += -lZydis -lpthread
$(FUZZ_B)/fuzz_%: tests/fuzz/fuzz_check.h
	@mkdir -p $(@D)
	$(if $(Q),@echo "  FUZZCC  $@")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $(filter %.c,$^) $(FUZZ_LIBS)

# Per target: a dictionary, and what each run may cost. fuzz_proto asserts
# its memory: no allocation over 1 MiB (a message is 512 bytes there, its
# value budget 64 KiB) and at most 512 MiB resident for the whole run.
FUZZ_DICT_proto          := -dict=tests/fuzz/json.dict
FUZZ_DICT_config         := -dict=tests/fuzz/json.dict
FUZZ_DICT_daemon_config  := -dict=tests/fuzz/json.dict
FUZZ_DICT_peer           := -dict=tests/fuzz/json.dict
FUZZ_EXTRA_proto         := -malloc_limit_mb=1 -rss_limit_mb=512
FUZZ_EXTRA_loader        := -max_len=65536

fuzz: fuzz-build
	@for t in $(FUZZ_TARGETS); do \
		mkdir -p $(FUZZ_B)/corpus/$$t $(FUZZ_B)/crashes; \
		echo "  FUZZ    $$t: $(FUZZ_RUNS) runs"; \
		opts=; \
		$(foreach t,$(FUZZ_TARGETS),[ $$t = $(t) ] && opts="$(FUZZ_DICT_$(t)) $(FUZZ_EXTRA_$(t))";) \
		UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		ASAN_OPTIONS=malloc_context_size=8:quarantine_size_mb=64 \
		$(FUZZ_B)/fuzz_$$t -runs=$(FUZZ_RUNS) $(FUZZ_FLAGS) $$opts \
			-artifact_prefix=$(FUZZ_B)/crashes/$$t- -print_final_stats=1 \
			$(FUZZ_B)/corpus/$$t tests/fuzz/corpus/$$t tests/fuzz/regressions/$$t \
			>$(FUZZ_B)/fuzz_$$t.log 2>&1 || { tail -n 40 $(FUZZ_B)/fuzz_$$t.log; exit 1; }; \
		grep -E '^stat::number_of_executed_units|^Done' $(FUZZ_B)/fuzz_$$t.log | sed 's/^/    /'; \
	done

# === install ====================================================================
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

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(DATADIR)/vmmd/guests \
		$(DESTDIR)$(DATADIR)/vmmd/examples $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(SYSUSERSDIR) \
		$(DESTDIR)$(TMPFILESDIR) $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(MANDIR)/man1 \
		$(DESTDIR)$(DATADIR)/vmmd/web $(DESTDIR)$(DATADIR)/vmmd/grafana $(DESTDIR)$(DATADIR)/vmmd/python/examples
	install -m 0755 $(B)/vmmd $(DESTDIR)$(SBINDIR)/vmmd
	install -m 0755 $(B)/vmmctl $(DESTDIR)$(BINDIR)/vmmctl
	install -m 0755 $(B)/vmmweb $(DESTDIR)$(SBINDIR)/vmmweb
	install -m 0644 $(GUEST_ELFS) $(B)/guests/minios.elf $(B)/guests/isa.elf $(DESTDIR)$(DATADIR)/vmmd/guests/
	@# Examples name their kernel under build/; installed, it is under DATADIR.
	@# linux.json boots the test tier's kernel (build/linux), which is not installed;
	@# debian-pv.json a kernel fetched into build/ (scripts/get-debian-kernel).
	for f in config/examples/*.json; do \
		[ "$${f##*/}" = linux.json ] && continue; \
		[ "$${f##*/}" = debian-pv.json ] && continue; \
		sed 's|"build/guests/|"$(DATADIR)/vmmd/guests/|' $$f >$(DESTDIR)$(DATADIR)/vmmd/examples/$${f##*/} && \
		chmod 0644 $(DESTDIR)$(DATADIR)/vmmd/examples/$${f##*/} || exit 1; \
	done
	for u in vmmd vmmweb; do \
		sed 's|/usr/sbin/'$$u'|$(SBINDIR)/'$$u'|g' packaging/$$u.service >$(DESTDIR)$(SYSTEMDUNITDIR)/$$u.service && \
		chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/$$u.service || exit 1; \
	done
	install -m 0644 packaging/vmmd.socket $(DESTDIR)$(SYSTEMDUNITDIR)/vmmd.socket
	install -m 0644 packaging/vmmd.sysusers $(DESTDIR)$(SYSUSERSDIR)/vmmd.conf
	install -m 0644 packaging/vmmd.tmpfiles $(DESTDIR)$(TMPFILESDIR)/vmmd.conf
	for m in man8/vmmd.8 man8/vmmweb.8 man1/vmmctl.1; do \
		sed 's/@VERSION@/$(VERSION)/' packaging/man/$${m#*/} >$(DESTDIR)$(MANDIR)/$$m && \
		chmod 0644 $(DESTDIR)$(MANDIR)/$$m || exit 1; \
	done
	install -D -m 0644 packaging/vmmd.json.example $(DESTDIR)$(DATADIR)/vmmd/vmmd.json.example
	@# vmmweb's pages, the Grafana dashboard and the Python client.
	install -m 0644 $(WEB_STATIC) $(DESTDIR)$(DATADIR)/vmmd/web/
	install -m 0644 packaging/grafana/vmmd-dashboard.json $(DESTDIR)$(DATADIR)/vmmd/grafana/
	install -m 0644 clients/python/vmmd.py $(DESTDIR)$(DATADIR)/vmmd/python/
	install -m 0755 clients/python/examples/*.py $(DESTDIR)$(DATADIR)/vmmd/python/examples/

# === packaging ==================================================================
# A binary .deb from this tree, with dpkg-deb (no debian/ source package):
# $(B)/vmmd_VERSION_ARCH.deb, staged outside $(B) (packaging/mkdeb, which
# reads VERSION too).
DEB_ARCH    ?= $(shell dpkg --print-architecture 2>/dev/null || echo amd64)

deb: all
	$(Q)MAKE="$(MAKE)" packaging/mkdeb $(B) $(DEB_ARCH)

# === clean ======================================================================
# $(B) and the fuzz build; with the default B, the sanitizer build too.
clean:
	rm -rf $(B) $(FUZZ_B) $(if $(filter build,$(B)),build-san)

.PHONY: all guests tests check check-unit check-linux check-all check-fresh check-nested check-long check-load bench-nested \
        demo demo-linux bench install deb \
        fuzz fuzz-build clean need-cmocka

-include $(shell find $(B) \( -path $(B)/linux -o -path $(B)/fresh -o -path $(B)/nested -o -path $(B)/debian-kernel \) -prune -o -name '*.d' -type f -print 2>/dev/null)
