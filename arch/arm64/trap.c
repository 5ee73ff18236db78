// SPDX-License-Identifier: MIT
/* Reports an unexpected exception clearly, then panics (which powers off). */
#include <asm/trap.h>
#include <kernel/compiler.h>
#include <kernel/fault.h>
#include <kernel/kmap.h>
#include <kernel/panic.h>
#include <kernel/printk.h>
#include <mm/heap.h>
#include "platform.h"

static const char *const vector_names[16] = {
	"sync (EL1t)",	 "IRQ (EL1t)",	 "FIQ (EL1t)",	 "SError (EL1t)",
	"sync (EL1h)",	 "IRQ (EL1h)",	 "FIQ (EL1h)",	 "SError (EL1h)",
	"sync (EL0/64)", "IRQ (EL0/64)", "FIQ (EL0/64)", "SError (EL0/64)",
	"sync (EL0/32)", "IRQ (EL0/32)", "FIQ (EL0/32)", "SError (EL0/32)",
};

static const char *exception_class(unsigned long esr)
{
	switch ((esr >> 26) & 0x3f) {
	case 0x00: return "unknown reason (undefined instruction)";
	case 0x01: return "WFI/WFE trapped";
	case 0x07: return "FP/SIMD access trapped";
	case 0x0e: return "illegal execution state";
	case 0x15: return "SVC";
	case 0x16: return "HVC";
	case 0x17: return "SMC";
	case 0x18: return "system register access trapped";
	case 0x20: return "instruction abort from a lower EL";
	case 0x21: return "instruction abort";
	case 0x22: return "PC alignment fault";
	case 0x24: return "data abort from a lower EL";
	case 0x25: return "data abort";
	case 0x26: return "SP alignment fault";
	case 0x2f: return "SError";
	case 0x3c: return "BRK";
	default: return "unexpected exception class";
	}
}

static void dump_registers(const struct trap_frame *tf)
{
	for (int i = 0; i < 31; i++)
		printk("x%-2d %016lx%s", i, tf->regs[i], i % 4 == 3 ? "\n" : "  ");
	printk("sp  %016lx\n", tf->sp);
}

#define ESR_EC(esr) (((esr) >> 26) & 0x3f)
#define ESR_EC_IABT 0x21 /* instruction abort at EL1 */
#define ESR_EC_DABT 0x25 /* data abort at EL1 */
#define ESR_WNR (1UL << 6)

static const char *fault_status(unsigned long esr)
{
	switch ((esr & 0x3f) >> 2) {
	case 0: return "address size fault";
	case 1: return "translation fault (not mapped)";
	case 2: return "access flag fault";
	case 3: return "permission fault";
	case 4: return "synchronous external abort";
	case 8: return "alignment fault";
	default: return "other fault status";
	}
}

static bool memory_fault(const struct trap_frame *tf, unsigned long vector, struct fault_info *f)
{
	unsigned long ec = ESR_EC(tf->esr);

	if ((vector & 15) != VEC_SYNC + 4 || (ec != ESR_EC_IABT && ec != ESR_EC_DABT))
		return false;
	f->access = ec == ESR_EC_IABT ? FAULT_EXEC : (tf->esr & ESR_WNR) ? FAULT_WRITE : FAULT_READ;
	f->addr = tf->far;
	f->pc = tf->elr;
	f->cause = tf->esr;
	f->what = exception_class(tf->esr);
	return true;
}

void arm64_handle_trap(struct trap_frame *tf, unsigned long vector)
{
	struct fault_info f;
	bool mem = memory_fault(tf, vector, &f);
	const char *guard;

	if (mem) {
		uintptr_t resume = fault_fixup(&f);

		if (resume) {
			tf->elr = resume;
			return;
		}
	}
	/* A semihosting exit that QEMU did not honour arrives here as undefined. */
	if (arm64_semihosting_trap_check()) {
		tf->elr += 4;
		return;
	}

	printk("\nFAULT: %s, %s\n", vector_names[vector & 15], exception_class(tf->esr));
	printk("  ESR 0x%08lx  ELR 0x%016lx  FAR 0x%016lx  SPSR 0x%08lx\n", tf->esr, tf->elr,
	       tf->far, tf->spsr);
	if (mem) {
		printk("  %s on %s\n", fault_status(tf->esr),
		       f.access == FAULT_EXEC ? "fetch" : f.access == FAULT_WRITE ? "write" : "read");
		kmap_describe(tf->far);
	}
	dump_registers(tf);
	/* a fault in the heap's guard pool: the report names the object */
	if (mem &&
	    (guard = heap_guard_fault(f.addr, f.access == FAULT_WRITE ? "write" : "read", f.pc)))
		panic("%s", guard);
	panic("unhandled exception: %s at ELR %#lx (FAR %#lx, ESR %#lx)", exception_class(tf->esr),
	      tf->elr, tf->far, tf->esr);
}
