# RISC-V: RV64IMAC, medany code model (PC-relative: runs wherever it is loaded).
ARCH_CFLAGS := -march=rv64imac_zicsr_zifencei -mabi=lp64 -mcmodel=medany
ifeq ($(LLVM),1)
  ARCH_CFLAGS += -mno-relax
endif
ARCH_LDFLAGS := --no-relax
ARCH_LIBS :=

obj-y += arch/riscv/head.o arch/riscv/trap_entry.o arch/riscv/trap.o arch/riscv/sbi.o \
	arch/riscv/platform.o
