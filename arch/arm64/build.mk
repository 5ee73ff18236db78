# AArch64: no FP/SIMD (not enabled at entry) and no unaligned accesses (with
# the MMU off memory is Device memory, where they fault).
# Atomics inline (no libgcc/compiler-rt helpers in a freestanding kernel).
ARCH_CFLAGS := -mgeneral-regs-only -mstrict-align -mcmodel=small -mno-outline-atomics
ARCH_LDFLAGS := -z max-page-size=4096
ARCH_LIBS :=

obj-y += arch/arm64/head.o arch/arm64/vectors.o arch/arm64/trap.o arch/arm64/psci.o \
	arch/arm64/platform.o arch/arm64/mmu.o arch/arm64/probe.o arch/arm64/smp.o \
	arch/arm64/gic.o
