# mm/: a folder per subsystem (dt, memmap, bootmem, buddy, mmu, heap), then
# the heap strategy the Kconfig choice picks, each in a folder of its own
# under mm/heap/. Each strategy's files are listed once here; the host
# build (tests/host/build.mk) compiles every strategy from these lists.
heap_strategies := HEAP_PER_HART_SLAB HEAP_BLOCK HEAP_SLAB_PAGES HEAP_SEGREGATED_FIT
heap_srcs_HEAP_PER_HART_SLAB := $(wildcard mm/heap/hart/*.c)
heap_srcs_HEAP_BLOCK := $(wildcard mm/heap/block/*.c) mm/heap/heap_global.c
heap_srcs_HEAP_SLAB_PAGES := $(wildcard mm/heap/slabpages/*.c) mm/heap/heap_global.c
heap_srcs_HEAP_SEGREGATED_FIT := $(wildcard mm/heap/segfit/*.c) mm/heap/heap_global.c
# short names, for file names: build/host/test_heap_conformance_<name> ...
heap_name_HEAP_PER_HART_SLAB := hart
heap_name_HEAP_BLOCK := block
heap_name_HEAP_SLAB_PAGES := slabpages
heap_name_HEAP_SEGREGATED_FIT := segfit
heap_strategy_srcs := $(sort $(foreach s,$(heap_strategies),$(heap_srcs_$(s))))
mm_srcs := $(sort $(wildcard mm/*/*.c mm/*/*/*.c))
mm_common_srcs := $(filter-out $(heap_strategy_srcs),$(mm_srcs))
# the heap's own sources: the front, the early heap and every strategy
mm_heap_srcs := $(filter mm/heap/%,$(mm_common_srcs))

obj-y += $(patsubst %.c,%.o,$(mm_common_srcs))
obj-y += $(patsubst %.c,%.o,$(sort $(foreach s,$(heap_strategies),\
	$(if $(filter y,$(CONFIG_$(s))),$(heap_srcs_$(s))))))
