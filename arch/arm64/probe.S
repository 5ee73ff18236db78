/* SPDX-License-Identifier: MIT */
/*
 * Accesses that may fault (include/kernel/fault.h): each faulting
 * instruction is listed in __ex_table with where to resume, -EFAULT in x0.
 */
#include <kernel/errno.h>
#include <kernel/fault.h>

	.section .text
	.balign	4
	.globl	arch_probe_read64
arch_probe_read64:		/* (addr, *val) */
1:	ldr	x2, [x0]
	str	x2, [x1]
	mov	x0, #0
	ret
2:	mov	x0, #-EFAULT
	ret
	extable	1b, 2b

	.globl	arch_probe_write64
arch_probe_write64:		/* (addr, val) */
1:	str	x1, [x0]
	mov	x0, #0
	ret
2:	mov	x0, #-EFAULT
	ret
	extable	1b, 2b

	/* Calls addr; if fetching there faults, fault_fixup() resumes at exec_probe_fixup. */
	.globl	arch_probe_exec
arch_probe_exec:		/* (addr) */
	stp	x29, x30, [sp, #-16]!
	adrp	x1, exec_probe_target
	str	x0, [x1, :lo12:exec_probe_target]
	blr	x0
	mov	x0, #0
	b	1f
	.globl	exec_probe_fixup
exec_probe_fixup:
	mov	x0, #-EFAULT
1:	adrp	x1, exec_probe_target
	str	xzr, [x1, :lo12:exec_probe_target]
	ldp	x29, x30, [sp], #16
	ret

	/* (va, size): clean the data side to the point of unification, drop stale instructions */
	.globl	arch_sync_icache
arch_sync_icache:
	add	x1, x0, x1
	mov	x2, x0
1:	dc	cvau, x2
	add	x2, x2, #4
	cmp	x2, x1
	b.lo	1b
	dsb	ish
2:	ic	ivau, x0
	add	x0, x0, #4
	cmp	x0, x1
	b.lo	2b
	dsb	ish
	isb
	ret

	.section .rodata
	.balign	4
	.globl	arch_ret_insn
arch_ret_insn:
	ret
