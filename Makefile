# SPDX-License-Identifier: MIT
#
# Portable kernel memory subsystem: kbuild-style top-level Makefile.
#
#   make [ARCH=riscv64|riscv|arm64|aarch64] [CROSS_COMPILE=...] [LLVM=1] [O=dir] [V=1]
#   make defconfig | menuconfig | olddefconfig | savedefconfig | <fragment>.config
#   (configs/*.config: e.g. make defconfig heap_block.config all)
#   make run [BOOT=direct|uboot] | debug | check | tools | compile_commands.json
#   make shim (O/host/libmemcore.so: the heaps as a malloc, LD_PRELOAD) | bench-shim
#
# Everything is built under $(O) (default: build): the kernel for each
# architecture in $(O)/<arch> (its .config lives there too), the host tools
# and tests in $(O)/host, libfdt's extracted sources in $(O)/libfdt.

ARCH ?= riscv64
ifneq ($(filter riscv riscv64,$(ARCH)),)
  SRCARCH := riscv
  ARCH_NAME := riscv64
  ARCH_TRIPLE := riscv64-linux-gnu
else ifneq ($(filter arm64 aarch64,$(ARCH)),)
  SRCARCH := arm64
  ARCH_NAME := arm64
  ARCH_TRIPLE := aarch64-linux-gnu
else
  $(error ARCH=$(ARCH) is not supported: use riscv64 (or riscv) or arm64 (or aarch64))
endif
export SRCARCH ARCH_NAME

# Configuration goals with others in one command (make defconfig
# heap_block.config all): each goal in a make of its own, in order, so that
# a build reads the .config the configuration goals before it wrote (this
# make read it before they ran) and two of them never run at once.
config_goals := $(filter %config,$(MAKECMDGOALS))
ifneq ($(and $(config_goals),$(word 2,$(MAKECMDGOALS))),)
.PHONY: $(MAKECMDGOALS) one-goal-at-a-time
$(MAKECMDGOALS): one-goal-at-a-time ; @:
one-goal-at-a-time:
	@for g in $(MAKECMDGOALS); do $(MAKE) --no-print-directory $$g || exit 1; done
else

O ?= build
objtree := $(O)/$(SRCARCH)
hosttree := $(O)/host
fdtsrc := $(or $(FDTSRC),$(O)/libfdt)
srctree := $(CURDIR)
export srctree

ifeq ($(V),1)
  Q :=
  quiet = @true
else
  Q := @
  quiet = @printf '  %-8s %s\n'
endif

# ---- toolchain -------------------------------------------------------------

ifeq ($(LLVM),1)
  CROSS_COMPILE ?=
  CC := clang --target=$(ARCH_TRIPLE)
  LD := ld.lld
  AR := llvm-ar
  OBJCOPY := llvm-objcopy
  READELF := llvm-readelf
  DEPS_SETS := build llvm
else
  CROSS_COMPILE ?= $(ARCH_TRIPLE)-
  CC := $(CROSS_COMPILE)gcc
  LD := $(CROSS_COMPILE)ld
  AR := $(CROSS_COMPILE)ar
  OBJCOPY := $(CROSS_COMPILE)objcopy
  READELF := $(CROSS_COMPILE)readelf
  DEPS_SETS := build
endif
HOSTCC ?= gcc
KCONFIG_PY := /usr/bin/python3
KCONFIG_LIB := /usr/lib/python3/dist-packages

# ---- configuration ---------------------------------------------------------

KCONFIG_CONFIG := $(objtree)/.config
export KCONFIG_CONFIG
autoconf := $(objtree)/include/generated/autoconf.h
configdeps := $(objtree)/include/config
defconfig_file := configs/$(ARCH_NAME)_defconfig
kconfig_files := $(shell find . -name Kconfig -not -path './$(O)/*' 2>/dev/null)

config_targets := defconfig menuconfig olddefconfig savedefconfig %_defconfig
no_config_targets := $(config_targets) %.config clean distclean mrproper help tools host-tests \
	install-deps check bench bench-host shim bench-shim
need_config := $(if $(MAKECMDGOALS),$(filter-out $(no_config_targets),$(MAKECMDGOALS)),all)

ifneq ($(need_config),)
  ifeq ($(wildcard $(KCONFIG_CONFIG)),)
    # No .config yet: start from the default one, as `make run` promises.
    $(info *** $(KCONFIG_CONFIG) not found: using $(defconfig_file))
    $(shell mkdir -p $(objtree) && $(MAKE) -s --no-print-directory ARCH=$(ARCH) O=$(O) defconfig >&2)
  endif
  -include $(KCONFIG_CONFIG)
  # Included so that make brings autoconf.h and the per-symbol files up to
  # date and restarts before it looks at any object: else the first build
  # after a .config change compares objects with the old per-symbol files
  # and compiles nothing (make olddefconfig all did so).
  -include $(configdeps)/auto.conf
endif

# ---- flags and objects -----------------------------------------------------

# Each directory's build.mk adds its objects to obj-y (arch's also sets ARCH_*).
obj-y :=
include arch/$(SRCARCH)/build.mk kernel/build.mk lib/build.mk mm/build.mk drivers/build.mk

# Asked of the compiler once, when first needed: on a fresh machine the build
# installs the cross compiler before it compiles anything.
compiler_include = $(eval compiler_include := $(shell $(CC) -print-file-name=include))$(compiler_include)
KINCLUDE = -nostdinc -isystem $(compiler_include) \
	-Iinclude -Iinclude/libc -Iinclude/libfdt -Iarch/$(SRCARCH)/include -Ikernel/port \
	-I$(objtree)/include -include $(autoconf)
KCFLAGS := -std=gnu11 -O2 -Wall -Wextra -Werror -ffreestanding -fno-builtin \
	-fno-common -fno-stack-protector -fno-pie -fno-pic -fno-asynchronous-unwind-tables \
	-ffunction-sections -fdata-sections $(ARCH_CFLAGS)
ifeq ($(CONFIG_DEBUG_INFO),y)
  KCFLAGS += -g
endif
ifneq ($(LLVM),1)
  # Keep gcc from turning our memset/memcpy loops into calls to themselves.
  KCFLAGS += -fno-tree-loop-distribute-patterns
endif
KAFLAGS := -D__ASSEMBLY__ $(ARCH_AFLAGS)
KLDFLAGS := -nostdlib -static -z norelro -z noexecstack --build-id=none \
	--gc-sections $(ARCH_LDFLAGS)
# libfdt is not our code: same target flags, its own warning level.
FDT_CFLAGS := $(filter-out -Werror -Wextra,$(KCFLAGS)) -Wno-sign-compare

# A change of toolchain or flags (LLVM=1 after a gcc build, another
# CROSS_COMPILE, ...) rebuilds everything: every object depends on this
# file, which holds them and is rewritten only when they change.
flags_stamp := $(objtree)/.build-flags
build_flags := $(CC) $(LD) $(OBJCOPY) $(KCFLAGS) $(KAFLAGS) $(KLDFLAGS) $(FDT_CFLAGS)
ifneq ($(need_config),)
  ifneq ($(file <$(flags_stamp)),$(build_flags))
    $(shell mkdir -p $(objtree))
    $(file >$(flags_stamp),$(build_flags))
  endif
endif

fdt_names := fdt fdt_ro fdt_wip fdt_sw fdt_rw fdt_strerror fdt_empty_tree fdt_addresses
fdt_stamp := $(fdtsrc)/.extracted
kobjs := $(addprefix $(objtree)/,$(obj-y))
fdt_kobjs := $(addprefix $(objtree)/libfdt/,$(addsuffix .o,$(fdt_names)))

kernel_elf := $(objtree)/kernel.elf
kernel_image := $(objtree)/Image
lds := $(objtree)/kernel.lds

# ---- top-level targets -----------------------------------------------------

.PHONY: all install-deps run test-run debug check tools host-tests clean distclean mrproper help \
	defconfig menuconfig olddefconfig savedefconfig compile_commands.json bench bench-host bench-shim
all: $(kernel_image) $(O)/compile_commands.json

install-deps:
	$(Q)scripts/install-deps.sh $(DEPS_SETS)

# The build checks its tools before it starts (the list lives in one script).
empty :=
space := $(empty) $(empty)
deps_stamp := $(O)/.deps-$(subst $(space),-,$(DEPS_SETS))
$(deps_stamp):
	$(Q)mkdir -p $(O)
	$(Q)scripts/install-deps.sh $(DEPS_SETS)
	$(Q)touch $@

# make run boots the kernel and shows what it set up (memory map, harts, NUMA
# nodes, buddy, page tables, heaps), then powers off; make test-run (or make
# run KTEST=1) runs the in-kernel tests on the way (KTAP).
BOOT ?= direct
run_append = $(strip $(if $(filter 1,$(KTEST)),,notest) $(APPEND))
run: $(kernel_image) $(O)/compile_commands.json
	$(Q)scripts/install-deps.sh run
	$(Q)scripts/qemu-run.sh --arch $(ARCH_NAME) --boot $(BOOT) --image $(kernel_image) \
		--workdir $(objtree)/run $(if $(run_append),--append "$(run_append)") $(QEMU_ARGS)

test-run:
	$(Q)$(MAKE) --no-print-directory run KTEST=1

debug: $(kernel_image)
	$(Q)scripts/install-deps.sh debug
	@echo "QEMU waits for gdb on :1234. In another shell:"
	@echo "  gdb-multiarch $(kernel_elf) -ex 'target remote :1234'"
	$(Q)scripts/qemu-run.sh --arch $(ARCH_NAME) --boot $(BOOT) --image $(kernel_image) \
		--workdir $(objtree)/run --timeout 0 $(QEMU_ARGS) -- -s -S

check:
	$(Q)scripts/check.sh O=$(O) $(if $(filter 1,$(LLVM)),LLVM=1)

# About 10 minutes on two cores, with progress on stderr; bench-host: the
# callgrind part alone (2 minutes), no QEMU.
bench:
	$(Q)scripts/bench.sh O=$(O)

bench-host:
	$(Q)scripts/bench.sh O=$(O) --host-only

# libmemcore.so (make shim) and real programs under it, against other mallocs
bench-shim:
	$(Q)scripts/bench-shim.sh O=$(O)

# ---- Kconfig ---------------------------------------------------------------

kconfig = $(Q)mkdir -p $(objtree) && srctree=$(srctree) $(KCONFIG_PY)

defconfig: $(deps_stamp)
	$(kconfig) $(KCONFIG_LIB)/defconfig.py --kconfig Kconfig $(defconfig_file)

%_defconfig: $(deps_stamp)
	$(kconfig) $(KCONFIG_LIB)/defconfig.py --kconfig Kconfig configs/$@

# configs/*.config: fragments merged into the .config (the arch's
# defconfig first if there is none): make defconfig heap_block.config
config_fragments := $(notdir $(wildcard configs/*.config))
.PHONY: $(config_fragments)
$(config_fragments): %.config: $(deps_stamp)
	$(kconfig) scripts/merge-config.py Kconfig $(defconfig_file) configs/$@

menuconfig: $(deps_stamp)
	$(kconfig) $(KCONFIG_LIB)/menuconfig.py Kconfig

olddefconfig: $(deps_stamp)
	$(kconfig) $(KCONFIG_LIB)/olddefconfig.py Kconfig

savedefconfig: $(deps_stamp)
	$(kconfig) $(KCONFIG_LIB)/savedefconfig.py --kconfig Kconfig --out $(objtree)/defconfig
	@echo "wrote $(objtree)/defconfig (copy it to $(defconfig_file) to make it the default)"

# autoconf.h and the per-symbol files are rewritten only when a value changes,
# so an unchanged .config rebuilds nothing and a changed one rebuilds only the
# objects whose sources mention the changed symbols (scripts/fixdep.sh).
$(autoconf): $(KCONFIG_CONFIG) $(kconfig_files) | $(deps_stamp)
	$(quiet) GEN $@
	$(Q)mkdir -p $(dir $@)
	$(Q)srctree=$(srctree) $(KCONFIG_PY) $(KCONFIG_LIB)/genconfig.py \
		--header-path $@ --sync-deps $(configdeps) Kconfig
	$(Q)touch $@

$(configdeps)/auto.conf: $(autoconf)
	$(Q)touch $@

# ---- libfdt from Debian's linux-source package -----------------------------

LINUX_SRC_TAR := /usr/src/linux-source-6.1.tar.xz
$(fdt_stamp): | $(deps_stamp)
	$(quiet) EXTRACT "libfdt from $(LINUX_SRC_TAR)"
	$(Q)rm -rf $(fdtsrc) $(fdtsrc).tmp && mkdir -p $(fdtsrc).tmp
	$(Q)tar -xf $(LINUX_SRC_TAR) -C $(fdtsrc).tmp --strip-components=4 \
		--wildcards 'linux-source-6.1/scripts/dtc/libfdt/*.[ch]'
	$(Q)rm -f $(fdtsrc).tmp/libfdt_env.h  # ours is include/libfdt/libfdt_env.h
	$(Q)mv $(fdtsrc).tmp $(fdtsrc) && touch $@

$(fdtsrc)/%.c $(fdtsrc)/%.h: $(fdt_stamp) ;

# Extracted sources and other generated files are kept, never deleted as intermediates.
.SECONDARY:

# ---- kernel ----------------------------------------------------------------

# Each compile also leaves a compile-command fragment for compile_commands.json.
define compile_json
	$(Q)printf '{"directory":"%s","file":"%s","command":"%s"},\n' "$(srctree)" "$(1)" \
		"$(strip $(2))" > $@.json
endef

kcc = $(CC) $(KINCLUDE) $(KCFLAGS)

$(objtree)/%.o: %.c $(flags_stamp) | $(autoconf) $(fdt_stamp)
	$(quiet) CC $@
	$(Q)mkdir -p $(dir $@)
	$(Q)$(kcc) -I$(fdtsrc) -MD -MF $@.d -c $< -o $@
	$(Q)scripts/fixdep.sh $@.d $(configdeps)
	$(call compile_json,$<,$(kcc) -I$(fdtsrc) -c $< -o $@)

$(objtree)/%.o: %.S $(flags_stamp) | $(autoconf)
	$(quiet) AS $@
	$(Q)mkdir -p $(dir $@)
	$(Q)$(kcc) $(KAFLAGS) -MD -MF $@.d -c $< -o $@
	$(Q)scripts/fixdep.sh $@.d $(configdeps)
	$(call compile_json,$<,$(kcc) $(KAFLAGS) -c $< -o $@)

$(objtree)/libfdt/%.o: $(fdtsrc)/%.c $(fdt_stamp) $(flags_stamp) | $(autoconf)
	$(quiet) CC $@
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(KINCLUDE) $(FDT_CFLAGS) -I$(fdtsrc) -c $< -o $@

$(objtree)/libfdt.a: $(fdt_kobjs)
	$(quiet) AR $@
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(lds): arch/$(SRCARCH)/kernel.lds.S $(autoconf) $(flags_stamp)
	$(quiet) LDS $@
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) -E -P -x assembler-with-cpp $(KINCLUDE) -D__ASSEMBLY__ -MD -MP -MF $@.d \
		-MT $@ $< -o $@

$(kernel_elf): $(kobjs) $(objtree)/libfdt.a $(lds) Makefile arch/$(SRCARCH)/build.mk $(flags_stamp)
	$(quiet) LD $@
	$(Q)$(LD) $(KLDFLAGS) -T $(lds) -Map $@.map -o $@ $(kobjs) $(objtree)/libfdt.a \
		$(ARCH_LIBS)
	$(Q)scripts/check-relocs.sh $(READELF) $@

$(kernel_image): $(kernel_elf)
	$(quiet) OBJCOPY $@
	$(Q)$(OBJCOPY) -O binary $< $@
	$(Q)scripts/check-image.sh $(ARCH_NAME) $@

$(O)/compile_commands.json: $(kernel_image) $(wildcard $(hosttree)/libhost.a)
	$(quiet) GEN $@
	$(Q)scripts/gen-compile-commands.sh $@ "$(heap_strategy_srcs)" $(objtree) $(hosttree)

compile_commands.json: $(O)/compile_commands.json

-include $(wildcard $(objtree)/*.d $(objtree)/*/*.d $(objtree)/*/*/*.d $(objtree)/*/*/*/*.d)

# ---- host build: tools and unit tests (ASan + UBSan) -----------------------

include tests/host/build.mk
include libmemcore/build.mk

# ---- housekeeping ----------------------------------------------------------

# Everything built, not the configuration: the .config (and its .old) stay.
clean:
	$(Q)[ ! -d $(objtree) ] || find $(objtree) -mindepth 1 -maxdepth 1 \
		! -name .config ! -name .config.old -exec rm -rf {} +
	$(Q)rm -rf $(hosttree)/obj $(hosttree)/test_* $(hosttree)/dt-memmap \
		$(hosttree)/bench $(hosttree)/bench_* $(hosttree)/shim $(hosttree)/libmemcore*.so \
		$(O)/compile_commands.json
	@echo "kept $(KCONFIG_CONFIG); 'make mrproper' removes everything under $(O)"

distclean mrproper:
	$(Q)rm -rf $(O)

help:
	@sed -n '3,13p' Makefile | sed 's/^# \{0,1\}//'
	@echo
	@echo "Other variables: BOOT=direct|uboot (make run), KTEST=1 (make run runs the tests too:"
	@echo "  make test-run), APPEND='kernel command line', QEMU_ARGS='--mem 1G --smp 4 ...'"
	@echo "See README.md for what each Kconfig option is for."

endif # one goal at a time
