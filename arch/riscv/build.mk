# RISC-V: RV64IMAC, medany code model (PC-relative: runs wherever it is loaded).
ifeq ($(LLVM),1)
  # clang 14 has Zicsr/Zifencei in rv64imac already and cannot relax with ld.lld.
  ARCH_CFLAGS := -march=rv64imac -mabi=lp64 -mcmodel=medany -mno-relax
else
  ARCH_CFLAGS := -march=rv64imac_zicsr_zifencei -mabi=lp64 -mcmodel=medany
endif
ARCH_LDFLAGS := --no-relax
ARCH_LIBS :=

obj-y += arch/riscv/head.o arch/riscv/trap_entry.o arch/riscv/trap.o arch/riscv/sbi.o \
	arch/riscv/platform.o arch/riscv/mmu.o arch/riscv/probe.o arch/riscv/smp.o
