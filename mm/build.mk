# mm/: everything but the heap strategies, then the one the Kconfig choice
# picks. Each strategy's files are listed once here; the host build
# (tests/host/build.mk) compiles every strategy from these lists.
heap_strategies := HEAP_PER_HART_SLAB HEAP_BLOCK HEAP_SLAB_PAGES HEAP_SEGREGATED_FIT
heap_srcs_HEAP_PER_HART_SLAB := mm/heap_hart.c mm/heap_hart_kmalloc.c mm/heap_hart_pages.c mm/heap_slab.c mm/heap_stats.c
heap_srcs_HEAP_BLOCK := mm/heap_block.c mm/heap_global.c
heap_srcs_HEAP_SLAB_PAGES := mm/heap_slab_pages.c mm/heap_radix.c mm/heap_global.c
heap_srcs_HEAP_SEGREGATED_FIT := mm/heap_segfit.c mm/heap_global.c
# short names, for file names: build/host/test_heap_conformance_<name> ...
heap_name_HEAP_PER_HART_SLAB := hart
heap_name_HEAP_BLOCK := block
heap_name_HEAP_SLAB_PAGES := slabpages
heap_name_HEAP_SEGREGATED_FIT := segfit
heap_strategy_srcs := $(sort $(foreach s,$(heap_strategies),$(heap_srcs_$(s))))
mm_common_srcs := $(filter-out $(heap_strategy_srcs),$(wildcard mm/*.c))

obj-y += $(patsubst %.c,%.o,$(mm_common_srcs))
obj-y += $(patsubst %.c,%.o,$(sort $(foreach s,$(heap_strategies),\
	$(if $(filter y,$(CONFIG_$(s))),$(heap_srcs_$(s))))))
