# libmemcore: mm/'s heaps as a malloc for Linux programs (LD_PRELOAD), one
# shared library per heap strategy (mm/build.mk lists their files) and
# libmemcore.so, the default one (per-hart slab heaps), and
# libmemcore-debug.so: the per-hart slab heaps with the debug hardening
# tier (mm/heap/heap_debug.c: redzones, poison, quarantine, call sites in every
# report) and sampled guard pages at 1 in 1 (mm/heap/heap_guard.c: every
# allocation up to a page while the pool has room; MEMCORE_GUARD_RATE
# changes it); its mm/ and libmemcore/ objects are compiled again into
# shim-debug/. Built like the
# kernel's code (-O2, no sanitizers: they replace malloc themselves), as
# position-independent code with everything hidden but the allocation API
# (exports.map): the libfdt inside must never stand in for a program's own.
# Included from the top-level Makefile.

SHIM_CFLAGS := -std=gnu11 -O2 -g -fPIC -fvisibility=hidden -ftls-model=initial-exec \
	-ffunction-sections -fdata-sections -Wall -Wextra -Werror -pthread \
	-DCONFIG_MAX_HARTS=64 -Ilibmemcore/include -Itools/port -Iinclude -Iinclude/libfdt -I$(fdtsrc)
SHIM_LDFLAGS := -shared -pthread -Wl,--version-script=libmemcore/exports.map \
	-Wl,--gc-sections -Wl,-z,defs -Wl,-z,now

shimtree := $(hosttree)/shim
# malloc.c is compiled for each library, with its strategy's CONFIG_ (the
# per-hart heaps' fast paths are inlined into malloc() and free())
shim_srcs := lib/printf.c $(mm_common_srcs) $(filter-out libmemcore/malloc.c,$(wildcard libmemcore/*.c))
shim_objs := $(addprefix $(shimtree)/,$(shim_srcs:.c=.o)) \
	$(addprefix $(shimtree)/libfdt/,$(addsuffix .o,$(fdt_names)))
shim_lib = $(hosttree)/libmemcore-$(heap_name_$(1)).so
shim_malloc = $(shimtree)/$(heap_name_$(1))/malloc.o
shim_libs := $(foreach s,$(heap_strategies),$(call shim_lib,$(s))) $(hosttree)/libmemcore.so \
	$(hosttree)/libmemcore-debug.so
shimdebugtree := $(hosttree)/shim-debug
shim_debug_objs := $(addprefix $(shimdebugtree)/,$(shim_srcs:.c=.o) libmemcore/malloc.o \
	$(heap_srcs_HEAP_PER_HART_SLAB:.c=.o)) $(addprefix $(shimtree)/libfdt/,$(addsuffix .o,$(fdt_names)))

.PHONY: shim
shim: $(shim_libs)

$(shimtree)/%.o: %.c libmemcore/build.mk | $(fdt_stamp)
	$(quiet) HOSTCC $@
	$(Q)mkdir -p $(dir $@)
	$(Q)$(HOSTCC) $(SHIM_CFLAGS) -MD -MP -MF $@.d -c $< -o $@

$(shimtree)/libfdt/%.o: $(fdtsrc)/%.c $(fdt_stamp) libmemcore/build.mk
	$(quiet) HOSTCC $@
	$(Q)mkdir -p $(dir $@)
	$(Q)$(HOSTCC) $(filter-out -Werror -Wextra,$(SHIM_CFLAGS)) -Wno-sign-compare -c $< -o $@

define shim_strategy_rules
$(call shim_malloc,$(1)): libmemcore/malloc.c libmemcore/build.mk | $(fdt_stamp)
	$$(quiet) HOSTCC $$@
	$$(Q)mkdir -p $$(dir $$@)
	$$(Q)$$(HOSTCC) $$(SHIM_CFLAGS) -DCONFIG_$(1) -MD -MP -MF $$@.d -c $$< -o $$@

$(call shim_lib,$(1)): $(shim_objs) $(call shim_malloc,$(1)) \
		$(addprefix $(shimtree)/,$(heap_srcs_$(1):.c=.o)) libmemcore/exports.map
	$$(quiet) HOSTLD $$@
	$$(Q)$$(HOSTCC) $$(SHIM_LDFLAGS) -o $$@ $$(filter %.o,$$^)
endef
$(foreach s,$(heap_strategies),$(eval $(call shim_strategy_rules,$(s))))

$(hosttree)/libmemcore.so: $(call shim_lib,HEAP_PER_HART_SLAB)
	$(quiet) CP $@
	$(Q)cp $< $@

$(shimdebugtree)/%.o: %.c libmemcore/build.mk | $(fdt_stamp)
	$(quiet) HOSTCC $@
	$(Q)mkdir -p $(dir $@)
	$(Q)$(HOSTCC) $(SHIM_CFLAGS) -DCONFIG_HEAP_HARDEN_DEBUG -DCONFIG_HEAP_STATS -DCONFIG_HEAP_GUARD \
		-DCONFIG_HEAP_GUARD_RATE=1 -MD -MP -MF $@.d -c $< -o $@

$(hosttree)/libmemcore-debug.so: $(shim_debug_objs) libmemcore/exports.map
	$(quiet) HOSTLD $@
	$(Q)$(HOSTCC) $(SHIM_LDFLAGS) -o $@ $(filter %.o,$^)

-include $(shell find $(shimtree) $(shimdebugtree) -name '*.d' 2>/dev/null)

# Its tests (tests/shim/*.c): ordinary programs, run by tests/host/shim.sh
# with LD_PRELOAD of each library; no sanitizers (they bring a malloc of
# their own), no builtins (gcc would drop a malloc whose block is unused).
SHIM_TEST_CFLAGS := -std=gnu11 -O2 -g -fno-builtin -Wall -Wextra -Werror -pthread
shim_tests := $(patsubst tests/shim/%.c,$(shimtree)/test/%,$(wildcard tests/shim/*.c))

$(shimtree)/test/%: tests/shim/%.c tests/shim/shim_test.h tests/common/test_rand.h
	$(quiet) HOSTCC $@
	$(Q)mkdir -p $(dir $@)
	$(Q)$(HOSTCC) $(SHIM_TEST_CFLAGS) -o $@ $< -ldl

host-tests: $(shim_libs) $(shim_tests)
