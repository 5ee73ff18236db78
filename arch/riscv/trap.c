// SPDX-License-Identifier: MIT
/* Reports an unexpected trap clearly, then panics (which powers off). */
#include <asm/csr.h>
#include <asm/trap.h>
#include <kernel/compiler.h>
#include <kernel/fault.h>
#include <kernel/kmap.h>
#include <kernel/panic.h>
#include <kernel/printk.h>
#include <mm/heap.h>

static const char *const exception_names[] = {
	[0] = "instruction address misaligned",
	[1] = "instruction access fault",
	[2] = "illegal instruction",
	[3] = "breakpoint",
	[4] = "load address misaligned",
	[5] = "load access fault",
	[6] = "store/AMO address misaligned",
	[7] = "store/AMO access fault",
	[8] = "environment call from U-mode",
	[9] = "environment call from S-mode",
	[12] = "instruction page fault",
	[13] = "load page fault",
	[15] = "store/AMO page fault",
};

static const char *const reg_names[32] = {
	"zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "s0", "s1", "a0",
	"a1", "a2", "a3", "a4", "a5", "a6", "a7", "s2", "s3", "s4", "s5",
	"s6", "s7", "s8", "s9", "s10", "s11", "t3", "t4", "t5", "t6",
};

static const char *cause_name(unsigned long scause)
{
	unsigned long code = scause & ~SCAUSE_INTERRUPT;

	if (scause & SCAUSE_INTERRUPT)
		return "unexpected interrupt";
	if (code < ARRAY_SIZE(exception_names) && exception_names[code])
		return exception_names[code];
	return "unknown exception";
}

static void dump_registers(const struct trap_frame *tf)
{
	for (int i = 1; i < 32; i++)
		printk("%4s %016lx%s", reg_names[i], tf->regs[i], i % 4 == 3 ? "\n" : "  ");
	printk("\n");
}

static bool memory_fault(unsigned long scause, enum fault_access *access)
{
	switch (scause) {
	case 1: case 12: *access = FAULT_EXEC; return true;
	case 5: case 13: *access = FAULT_READ; return true;
	case 7: case 15: *access = FAULT_WRITE; return true;
	default: return false;
	}
}

void riscv_handle_trap(struct trap_frame *tf)
{
	struct fault_info f = { .addr = tf->stval, .pc = tf->sepc, .cause = tf->scause,
				.what = cause_name(tf->scause) };
	bool mem = memory_fault(tf->scause, &f.access);
	const char *guard;

	if (mem) {
		uintptr_t resume = fault_fixup(&f);

		if (resume) {
			tf->sepc = resume;
			return;
		}
	}
	printk("\nFAULT: %s\n", cause_name(tf->scause));
	printk("  scause 0x%016lx  sepc 0x%016lx  stval 0x%016lx  sstatus 0x%016lx\n", tf->scause,
	       tf->sepc, tf->stval, tf->sstatus);
	if (mem)
		kmap_describe(tf->stval);
	dump_registers(tf);
	/* a fault in the heap's guard pool: the report names the object */
	if (mem &&
	    (guard = heap_guard_fault(f.addr, f.access == FAULT_WRITE ? "write" : "read", f.pc)))
		panic("%s", guard);
	panic("unhandled trap: %s at sepc %#lx (stval %#lx)", cause_name(tf->scause), tf->sepc,
	      tf->stval);
}
