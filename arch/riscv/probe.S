/* SPDX-License-Identifier: MIT */
/*
 * Accesses that may fault (include/kernel/fault.h): each faulting
 * instruction is listed in __ex_table with where to resume, -EFAULT in a0.
 */
#include <kernel/errno.h>
#include <kernel/fault.h>

	.section .text
	.balign	4
	.globl	arch_probe_read64
arch_probe_read64:		/* (addr, *val) */
1:	ld	t0, 0(a0)
	sd	t0, 0(a1)
	li	a0, 0
	ret
2:	li	a0, -EFAULT
	ret
	extable	1b, 2b

	.globl	arch_probe_write64
arch_probe_write64:		/* (addr, val) */
1:	sd	a1, 0(a0)
	li	a0, 0
	ret
2:	li	a0, -EFAULT
	ret
	extable	1b, 2b

	/* Calls addr; if fetching there faults, fault_fixup() resumes at exec_probe_fixup. */
	.globl	arch_probe_exec
arch_probe_exec:		/* (addr) */
	addi	sp, sp, -16
	sd	ra, 8(sp)
	lla	t0, exec_probe_target
	sd	a0, 0(t0)
	jalr	a0
	li	a0, 0
	j	1f
	.globl	exec_probe_fixup
exec_probe_fixup:
	li	a0, -EFAULT
1:	lla	t0, exec_probe_target
	sd	zero, 0(t0)
	ld	ra, 8(sp)
	addi	sp, sp, 16
	ret

	.globl	arch_sync_icache
arch_sync_icache:
	fence.i
	ret

	.section .rodata
	.balign	4
	.globl	arch_ret_insn
arch_ret_insn:
	.word	0x00008067		/* ret (jalr zero, 0(ra)), never compressed */
