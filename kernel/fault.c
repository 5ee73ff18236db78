// SPDX-License-Identifier: MIT
/* Faults the kernel expects: the exception table and the probes built on it. */
#include <kernel/errno.h>
#include <kernel/fault.h>

extern const struct extable_entry __ex_table_start[], __ex_table_end[];

/* probe_exec()'s target while it runs, and where to resume if calling it faults */
uintptr_t exec_probe_target;
extern const char exec_probe_fixup[];

static struct fault_info last;
static unsigned long nr_faults;

int arch_probe_read64(uintptr_t addr, uint64_t *val);
int arch_probe_write64(uintptr_t addr, uint64_t val);
int arch_probe_exec(uintptr_t addr);

uintptr_t fault_fixup(const struct fault_info *f)
{
	uintptr_t resume = 0;

	if (f->access == FAULT_EXEC && exec_probe_target && f->pc == exec_probe_target) {
		resume = (uintptr_t)exec_probe_fixup;
	} else {
		for (const struct extable_entry *e = __ex_table_start; e < __ex_table_end; e++)
			if (e->insn == f->pc)
				resume = e->fixup;
	}
	if (resume) {
		last = *f;
		nr_faults++;
	}
	return resume;
}

const struct fault_info *fault_last(void)
{
	return &last;
}

unsigned long fault_count(void)
{
	return nr_faults;
}

int probe_read(uintptr_t addr, uint64_t *val)
{
	return arch_probe_read64(addr, val);
}

int probe_write(uintptr_t addr, uint64_t val)
{
	return arch_probe_write64(addr, val);
}

int probe_exec(uintptr_t addr)
{
	return arch_probe_exec(addr);
}
