# Host build: the portable code (lib/, mm/, the DT parsers) and libfdt compiled
# for this machine with ASan and UBSan, the unit tests linked against it, and
# the dt-memmap tool. Included from the top-level Makefile.

HOST_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
# The unit tests check the heaps' allocation counts (CONFIG_HEAP_STATS); the
# benchmarks and libmemcore.so build as defconfig does, without them.
HOST_CFLAGS := -std=gnu11 -O1 -g -Wall -Wextra -Werror $(HOST_SAN) -pthread \
	-DCONFIG_HEAP_STATS -Itools/port -Iinclude -Iinclude/libfdt -I$(fdtsrc)
HOST_LDFLAGS := $(HOST_SAN) -pthread

host_lib_srcs := lib/printf.c lib/ktest.c lib/cmdline.c \
	$(mm_common_srcs) tools/host-shim.c
host_lib_objs := $(addprefix $(hosttree)/obj/,$(host_lib_srcs:.c=.o))
host_fdt_objs := $(addprefix $(hosttree)/obj/libfdt/,$(addsuffix .o,$(fdt_names)))
host_lib := $(hosttree)/libhost.a

host_common_srcs := $(filter-out tests/common/heap_conformance.c,$(wildcard tests/common/*.c)) \
	$(filter-out tests/host/main.c \
	$(wildcard tests/host/test_*.c),$(wildcard tests/host/*.c))
host_common_objs := $(addprefix $(hosttree)/obj/,$(host_common_srcs:.c=.o))
host_tests := $(patsubst tests/host/test_%.c,$(hosttree)/test_%,$(wildcard tests/host/test_*.c))

host_dts := $(shell find tests/dts -name '*.dts' 2>/dev/null)
host_dtbs := $(patsubst tests/dts/%.dts,$(hosttree)/dtb/%.dtb,$(host_dts))

.PHONY: host-objs
host-objs: $(host_lib)
tools: $(hosttree)/dt-memmap
host-tests: $(host_tests) $(host_dtbs) $(hosttree)/dt-memmap

$(hosttree)/obj/%.o: %.c tests/host/build.mk | $(fdt_stamp)
	$(quiet) HOSTCC $@
	$(Q)mkdir -p $(dir $@)
	$(Q)$(HOSTCC) $(HOST_CFLAGS) -MD -MP -MF $@.d -c $< -o $@
	$(call compile_json,$<,$(HOSTCC) $(HOST_CFLAGS) -c $< -o $@)

$(hosttree)/obj/libfdt/%.o: $(fdtsrc)/%.c $(fdt_stamp) tests/host/build.mk
	$(quiet) HOSTCC $@
	$(Q)mkdir -p $(dir $@)
	$(Q)$(HOSTCC) $(filter-out -Werror -Wextra,$(HOST_CFLAGS)) -Wno-sign-compare -c $< -o $@

$(host_lib): $(host_lib_objs) $(host_fdt_objs)
	$(quiet) AR $@
	$(Q)rm -f $@ && ar rcs $@ $^

# One archive per heap strategy (mm/build.mk lists their files): a program
# links libhost.a and exactly one of them. The unit tests take the default,
# the per-hart slab heaps; the conformance suite is linked with each.
heap_archive = $(hosttree)/heap-$(heap_name_$(1)).a
host_heap_default := $(call heap_archive,HEAP_PER_HART_SLAB)
host_link = $(HOSTCC) $(HOST_LDFLAGS) -o $@ $(filter %.o,$^) -Wl,--start-group $(host_lib) $(1) -Wl,--end-group

define heap_strategy_rules
$(call heap_archive,$(1)): $(addprefix $(hosttree)/obj/,$(heap_srcs_$(1):.c=.o))
	$$(quiet) AR $$@
	$$(Q)rm -f $$@ && ar rcs $$@ $$^

$(hosttree)/test_heap_conformance_$(heap_name_$(1)): \
		$(hosttree)/obj/tests/host/conformance/test_heap_conformance.o \
		$(hosttree)/obj/tests/common/heap_conformance.o $(hosttree)/obj/tests/host/main.o $(host_common_objs) $(host_lib) $(call heap_archive,$(1))
	$$(quiet) HOSTLD $$@
	$$(Q)$$(call host_link,$(call heap_archive,$(1)))

host-tests: $(hosttree)/test_heap_conformance_$(heap_name_$(1))
endef
$(foreach s,$(heap_strategies),$(eval $(call heap_strategy_rules,$(s))))

$(hosttree)/test_%: $(hosttree)/obj/tests/host/test_%.o $(hosttree)/obj/tests/host/main.o \
		$(host_common_objs) $(host_lib) $(host_heap_default)
	$(quiet) HOSTLD $@
	$(Q)$(call host_link,$(host_heap_default))

$(hosttree)/dt-memmap: $(hosttree)/obj/tools/dt-memmap.o $(host_lib) $(host_heap_default)
	$(quiet) HOSTLD $@
	$(Q)$(call host_link,$(host_heap_default))

$(hosttree)/dtb/%.dtb: tests/dts/%.dts | $(deps_stamp)
	$(quiet) DTC $@
	$(Q)mkdir -p $(dir $@)
	$(Q)dtc -q -I dts -O dtb -o $@ $<

-include $(shell find $(hosttree)/obj -name '*.d' 2>/dev/null)

# ---- host benchmark ---------------------------------------------------------
# The same portable sources without sanitizers, at -O2 as in the kernel, and
# tests/bench/*.c linked against them; tests/bench/run-host.sh runs them
# under callgrind (make bench).

BENCH_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Werror -pthread \
	-Itools/port -Iinclude -Iinclude/libfdt -I$(fdtsrc)
bench_lib_srcs := lib/printf.c lib/ktest.c tools/host-shim.c tests/host/arena.c \
	tests/host/heap_host.c $(mm_common_srcs)
bench_lib_objs := $(addprefix $(hosttree)/bench/,$(bench_lib_srcs:.c=.o))
bench_fdt_objs := $(addprefix $(hosttree)/bench/libfdt/,$(addsuffix .o,$(fdt_names)))
# bench_heap once per heap strategy (bench_heap_<name>), the others with the default
bench_progs := $(patsubst tests/bench/%.c,$(hosttree)/%,$(filter-out tests/bench/bench_heap.c,\
	$(wildcard tests/bench/bench_*.c))) \
	$(foreach s,$(heap_strategies),$(hosttree)/bench_heap_$(heap_name_$(s)))
bench_heap_archive = $(hosttree)/bench/heap-$(heap_name_$(1)).a

.PHONY: host-bench
host-bench: $(bench_progs)

$(hosttree)/bench/%.o: %.c tests/host/build.mk | $(fdt_stamp)
	$(quiet) HOSTCC $@
	$(Q)mkdir -p $(dir $@)
	$(Q)$(HOSTCC) $(BENCH_CFLAGS) -MD -MP -MF $@.d -c $< -o $@

$(hosttree)/bench/libfdt/%.o: $(fdtsrc)/%.c $(fdt_stamp) tests/host/build.mk
	$(quiet) HOSTCC $@
	$(Q)mkdir -p $(dir $@)
	$(Q)$(HOSTCC) $(filter-out -Werror -Wextra,$(BENCH_CFLAGS)) -Wno-sign-compare -c $< -o $@

$(hosttree)/bench/libbench.a: $(bench_lib_objs) $(bench_fdt_objs)
	$(quiet) AR $@
	$(Q)rm -f $@ && ar rcs $@ $^

define bench_strategy_rules
$(call bench_heap_archive,$(1)): $(addprefix $(hosttree)/bench/,$(heap_srcs_$(1):.c=.o))
	$$(quiet) AR $$@
	$$(Q)rm -f $$@ && ar rcs $$@ $$^

$(hosttree)/bench_heap_$(heap_name_$(1)): $(hosttree)/bench/tests/bench/bench_heap.o \
		$(hosttree)/bench/libbench.a $(call bench_heap_archive,$(1))
	$$(quiet) HOSTLD $$@
	$$(Q)$$(HOSTCC) -pthread -o $$@ $$< -Wl,--start-group $$(filter %.a,$$^) -Wl,--end-group
endef
$(foreach s,$(heap_strategies),$(eval $(call bench_strategy_rules,$(s))))

$(hosttree)/bench_%: $(hosttree)/bench/tests/bench/bench_%.o $(hosttree)/bench/libbench.a \
		$(call bench_heap_archive,HEAP_PER_HART_SLAB)
	$(quiet) HOSTLD $@
	$(Q)$(HOSTCC) -pthread -o $@ $< -Wl,--start-group $(filter %.a,$^) -Wl,--end-group

-include $(shell find $(hosttree)/bench -name '*.d' 2>/dev/null)

# ---- ThreadSanitizer build of the concurrent heap tests --------------------
# ASan and TSan cannot share a program, so the sources the concurrent tests
# need are compiled again with -fsanitize=thread into their own tree;
# build/host/test_heap_smp_tsan is then run by scripts/check.sh like every
# other build/host/test_* program. -Wno-tsan: gcc warns that TSan cannot
# see fences, and the mapper's one (mm/mmu/mmu.c) orders table writes for the
# hardware walker, which the host does not have; the heap uses none.

TSAN_CFLAGS := -std=gnu11 -O1 -g -Wall -Wextra -Werror -Wno-tsan -fsanitize=thread \
	-fno-omit-frame-pointer -pthread -Itools/port -Iinclude -Iinclude/libfdt -I$(fdtsrc)
tsan_lib_srcs := lib/printf.c lib/ktest.c tools/host-shim.c $(mm_common_srcs) \
	$(heap_srcs_HEAP_PER_HART_SLAB)
tsan_lib_objs := $(addprefix $(hosttree)/tsan/,$(tsan_lib_srcs:.c=.o))
tsan_fdt_objs := $(addprefix $(hosttree)/tsan/libfdt/,$(addsuffix .o,$(fdt_names)))
tsan_common_objs := $(addprefix $(hosttree)/tsan/tests/host/,main.o arena.o heap_host.o) \
	$(hosttree)/tsan/tests/common/heap_stress.o
tsan_tests := $(hosttree)/test_heap_smp_tsan

host-tests: $(tsan_tests)

$(hosttree)/tsan/%.o: %.c tests/host/build.mk | $(fdt_stamp)
	$(quiet) HOSTCC $@
	$(Q)mkdir -p $(dir $@)
	$(Q)$(HOSTCC) $(TSAN_CFLAGS) -MD -MP -MF $@.d -c $< -o $@

$(hosttree)/tsan/libfdt/%.o: $(fdtsrc)/%.c $(fdt_stamp) tests/host/build.mk
	$(quiet) HOSTCC $@
	$(Q)mkdir -p $(dir $@)
	$(Q)$(HOSTCC) $(filter-out -Werror -Wextra,$(TSAN_CFLAGS)) -Wno-sign-compare -c $< -o $@

$(hosttree)/tsan/libtsan-host.a: $(tsan_lib_objs) $(tsan_fdt_objs)
	$(quiet) AR $@
	$(Q)rm -f $@ && ar rcs $@ $^

$(hosttree)/test_%_tsan: $(hosttree)/tsan/tests/host/test_%.o $(tsan_common_objs) \
		$(hosttree)/tsan/libtsan-host.a
	$(quiet) HOSTLD $@
	$(Q)$(HOSTCC) -fsanitize=thread -pthread -o $@ $(filter %.o,$^) $(hosttree)/tsan/libtsan-host.a

-include $(shell find $(hosttree)/tsan -name '*.d' 2>/dev/null)

# ---- the heap's forced races ----------------------------------------------
# tests/host/races/test_heap_races.c stops one free of an object at the
# heap's HEAP_RACE hooks and runs another in between. The heap's sources are
# compiled again with the hooks in; linked before libhost.a, they stand in
# for its heap objects (whose symbols they all define).

race_srcs := $(heap_srcs_HEAP_PER_HART_SLAB) $(mm_heap_srcs)
race_objs := $(addprefix $(hosttree)/races/,$(race_srcs:.c=.o))

host-tests: $(hosttree)/test_heap_races

$(hosttree)/races/%.o: %.c tests/host/build.mk | $(fdt_stamp)
	$(quiet) HOSTCC $@
	$(Q)mkdir -p $(dir $@)
	$(Q)$(HOSTCC) $(HOST_CFLAGS) -DHEAP_RACE_HOOKS -MD -MP -MF $@.d -c $< -o $@

$(hosttree)/test_heap_races: $(hosttree)/races/tests/host/races/test_heap_races.o $(race_objs) \
		$(hosttree)/obj/tests/host/main.o $(host_common_objs) $(host_lib)
	$(quiet) HOSTLD $@
	$(Q)$(call host_link,)

-include $(shell find $(hosttree)/races -name '*.d' 2>/dev/null)

# ---- the heap under each hardening tier -----------------------------------
# mm/heap/heap_harden.h: the default tier is what every other host program links.
# The heap's sources (every strategy's, kmalloc.c, the early heap, the
# debug layer) and the suites that look at the tier are compiled again
# per other tier into tier-<tier>/; linked as objects, they stand in for
# libhost.a's heap objects (whose symbols they all define), as the races'
# do. Programs: the conformance suite per strategy and tier
# (test_heap_conformance_<strategy>_<tier>; the default tier's is
# test_heap_conformance_<strategy>), and the misuse suite per strategy and
# tier (test_heap_misuse_<strategy>_<tier>, every tier).

heap_tiers := off default debug
# The tier-off builds also take the per-hart heaps' caches at the ends of
# their Kconfig ranges (the smallest class caches, the largest cache of
# page blocks), so that the suites run those sizes too.
tier_flag_off := -DCONFIG_HEAP_HARDEN_OFF -DCONFIG_HEAP_CACHE_KB=8 -DCONFIG_HEAP_PAGE_BLOCKS_KB=512
tier_flag_default :=
tier_flag_debug := -DCONFIG_HEAP_HARDEN_DEBUG
tier_common_srcs := $(mm_heap_srcs)
tier_objs = $(addprefix $(hosttree)/tier-$(2)/,$(tier_common_srcs:.c=.o) $(heap_srcs_$(1):.c=.o))

define heap_tier_obj_rules
$(hosttree)/tier-$(1)/%.o: %.c tests/host/build.mk | $(fdt_stamp)
	$$(quiet) HOSTCC $$@
	$$(Q)mkdir -p $$(dir $$@)
	$$(Q)$$(HOSTCC) $$(HOST_CFLAGS) $(tier_flag_$(1)) -MD -MP -MF $$@.d -c $$< -o $$@
endef
$(foreach t,$(heap_tiers),$(eval $(call heap_tier_obj_rules,$(t))))

# STRATEGY TIER
define heap_tier_rules
$(hosttree)/test_heap_misuse_$(heap_name_$(1))_$(2): \
		$(hosttree)/tier-$(2)/tests/host/tiers/test_heap_misuse.o $(call tier_objs,$(1),$(2)) \
		$(hosttree)/obj/tests/host/main.o $(host_common_objs) $(host_lib)
	$$(quiet) HOSTLD $$@
	$$(Q)$$(call host_link,)

host-tests: $(hosttree)/test_heap_misuse_$(heap_name_$(1))_$(2)

ifneq ($(2),default)
$(hosttree)/test_heap_conformance_$(heap_name_$(1))_$(2): \
		$(hosttree)/tier-$(2)/tests/host/conformance/test_heap_conformance.o \
		$(hosttree)/tier-$(2)/tests/common/heap_conformance.o $(call tier_objs,$(1),$(2)) \
		$(hosttree)/obj/tests/host/main.o $(host_common_objs) $(host_lib)
	$$(quiet) HOSTLD $$@
	$$(Q)$$(call host_link,)

host-tests: $(hosttree)/test_heap_conformance_$(heap_name_$(1))_$(2)
endif
endef
$(foreach s,$(heap_strategies),$(foreach t,$(heap_tiers),$(eval $(call heap_tier_rules,$(s),$(t)))))

-include $(shell find $(hosttree)/tier-* -name '*.d' 2>/dev/null)

# ---- sampled guard pages ----------------------------------------------------
# mm/heap/heap_guard.h: off unless CONFIG_HEAP_GUARD. The heap's sources are
# compiled again with it, per tier, into guard-<tier>/ (standing in for
# libhost.a's heap objects, as the tiers' do), and the guard suite is
# linked with each strategy and tier: test_heap_guard_<strategy> (the
# default tier) and test_heap_guard_<strategy>_<tier>.

guard_objs = $(addprefix $(hosttree)/guard-$(2)/,$(tier_common_srcs:.c=.o) $(heap_srcs_$(1):.c=.o))
guard_prog = $(hosttree)/test_heap_guard_$(heap_name_$(1))$(if $(filter default,$(2)),,_$(2))

define heap_guard_obj_rules
$(hosttree)/guard-$(1)/%.o: %.c tests/host/build.mk | $(fdt_stamp)
	$$(quiet) HOSTCC $$@
	$$(Q)mkdir -p $$(dir $$@)
	$$(Q)$$(HOSTCC) $$(HOST_CFLAGS) $(tier_flag_$(1)) -DCONFIG_HEAP_GUARD -MD -MP -MF $$@.d -c $$< -o $$@
endef
$(foreach t,$(heap_tiers),$(eval $(call heap_guard_obj_rules,$(t))))

# STRATEGY TIER
define heap_guard_rules
$(call guard_prog,$(1),$(2)): $(hosttree)/guard-$(2)/tests/host/guard/test_heap_guard.o \
		$(call guard_objs,$(1),$(2)) $(hosttree)/obj/tests/host/main.o $(host_common_objs) $(host_lib)
	$$(quiet) HOSTLD $$@
	$$(Q)$$(call host_link,)

host-tests: $(call guard_prog,$(1),$(2))
endef
$(foreach s,$(heap_strategies),$(foreach t,$(heap_tiers),$(eval $(call heap_guard_rules,$(s),$(t)))))

-include $(shell find $(hosttree)/guard-* -name '*.d' 2>/dev/null)
