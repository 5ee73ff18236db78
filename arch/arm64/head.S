/* SPDX-License-Identifier: MIT */
/*
 * AArch64 entry. QEMU -kernel or U-Boot's booti enters with the MMU off,
 * x0 = DTB, at EL1 or EL2, wherever the image was loaded.
 */
#include <asm/sysreg.h>

#define R_AARCH64_RELATIVE 1027
#define BOOT_STACK_SIZE 16384

	.section .head.text, "ax"
	/* The Linux arm64 image header, which QEMU and U-Boot's booti check. */
	.globl	_start
_start:
	b	primary_entry		/* code0 */
	.long	0			/* code1 */
	.quad	0			/* text_offset */
	/* image_size (including bss) comes from the linker script */
	.section .head.text.rest, "ax"
	.quad	0xa			/* flags: little-endian, 4 KiB pages, placed anywhere */
	.quad	0, 0, 0			/* res2..res4 */
	.ascii	"ARM\x64"		/* magic */
	.long	0			/* res5: no PE header */

primary_entry:
	mov	x19, x0			/* DTB */
	mrs	x20, CurrentEL
	ubfx	x20, x20, #2, #2	/* the EL we were entered at */
	cmp	x20, #2
	b.ne	1f
	bl	el2_to_el1
1:	msr	daifset, #0xf
	adr	x0, vectors
	msr	vbar_el1, x0
	isb

	/* Linked at CONFIG_KERNEL_LINK_ADDR, running where we were loaded:
	 * apply the R_AARCH64_RELATIVE relocations with the difference. */
	adr	x0, _start
	ldr	x1, =CONFIG_KERNEL_LINK_ADDR
	sub	x9, x0, x1
	adrp	x2, __rela_start
	add	x2, x2, :lo12:__rela_start
	adrp	x3, __rela_end
	add	x3, x3, :lo12:__rela_end
2:	cmp	x2, x3
	b.hs	4f
	ldp	x4, x5, [x2]		/* r_offset, r_info */
	ldr	x6, [x2, #16]		/* r_addend */
	add	x2, x2, #24
	cmp	x5, #R_AARCH64_RELATIVE
	b.ne	2b
	add	x6, x6, x9
	str	x6, [x4, x9]
	b	2b

4:	adrp	x0, __bss_start
	add	x0, x0, :lo12:__bss_start
	adrp	x1, __bss_end
	add	x1, x1, :lo12:__bss_end
5:	cmp	x0, x1
	b.hs	6f
	stp	xzr, xzr, [x0], #16
	b	5b

6:	adrp	x0, arm64_entry_el
	str	x20, [x0, :lo12:arm64_entry_el]
	adrp	x0, boot_stack_top
	add	sp, x0, :lo12:boot_stack_top
	mrs	x0, mpidr_el1
	ldr	x1, =MPIDR_HWID_MASK
	and	x0, x0, x1
	mov	x1, x19
	bl	start_kernel
7:	wfi
	b	7b

/* Configure EL1 as a plain AArch64 kernel EL and return to the caller at EL1. */
el2_to_el1:
	mov	x0, #HCR_EL2_RW
	msr	hcr_el2, x0
	mov	x0, #CNTHCTL_EL1PCTEN_EL1PCEN
	msr	cnthctl_el2, x0
	msr	cntvoff_el2, xzr
	mrs	x0, pmcr_el0		/* let EL1 use every PMU counter */
	ubfx	x0, x0, #11, #5
	msr	mdcr_el2, x0
	mov	x0, #CPTR_EL2_NO_TRAPS
	msr	cptr_el2, x0
	msr	vttbr_el2, xzr
	ldr	x0, =SCTLR_EL1_MMU_OFF
	msr	sctlr_el1, x0
	mov	x0, #SPSR_EL1H_MASKED
	msr	spsr_el2, x0
	msr	elr_el2, x30
	mov	x0, sp
	msr	sp_el1, x0
	isb
	eret

	.ltorg

	.bss
	.balign	16
boot_stack:
	.skip	BOOT_STACK_SIZE
	.globl	boot_stack_top
boot_stack_top:
