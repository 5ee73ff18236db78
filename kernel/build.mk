obj-y += kernel/main.o kernel/heap.o kernel/panic.o kernel/poweroff.o kernel/phys.o kernel/kmap.o kernel/fault.o kernel/smp.o \
	kernel/bench.o kernel/bench_buddy.o kernel/bench_mmu.o kernel/bench_heap.o
obj-$(CONFIG_KTEST) += kernel/ktests.o tests/kernel/test_boot.o tests/kernel/test_buddy.o \
	tests/kernel/test_kmap.o tests/kernel/test_smp.o tests/kernel/test_heap.o tests/kernel/test_heap_smp.o tests/common/test_lib.o \
	tests/common/heap_stress.o tests/common/heap_sweep.o tests/kernel/test_heap_conformance.o tests/common/heap_conformance.o \
	tests/kernel/test_heap_guard.o tests/kernel/test_numa.o
