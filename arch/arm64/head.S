/* SPDX-License-Identifier: MIT */
/*
 * AArch64 entry. QEMU -kernel or U-Boot's booti enters with the MMU off,
 * x0 = DTB, at EL1 or EL2, wherever the image was loaded. We map the image at
 * its link address (TTBR1, the higher half), turn the MMU on and go on there;
 * start_kernel() gets the MPIDR hart ID and the DTB's physical address.
 */
#include <asm/layout.h>
#include <asm/sysreg.h>
#include <kernel/smp.h>

#define BOOT_STACK_SIZE 16384
#define PAGE_SHIFT 12
#define PAGE_SIZE 4096
#define PTE_TABLE 0x3
/* boot_pt: L0, L1 of the direct map, L1, L2 and BOOT_IMAGE_TABLES L3 of the image, then: */
#define BOOT_PT_IDMAP ((4 + BOOT_IMAGE_TABLES) * PAGE_SIZE) /* the identity map's L0, L1, L2 */
/* AF | SH inner | AttrIndx 0 (Normal) | page: EL1 read/write/execute, EL0 nothing */
#define PTE_BOOT_RWX_PAGE ((1 << 54) | 0x703)
/* AF | SH inner | Normal | block, read-only (AP[2]) */
#define PTE_BOOT_RX_BLOCK ((1 << 54) | 0x781)
/* AF | AttrIndx 1 (Device) | block, never executed */
#define PTE_BOOT_DEVICE_BLOCK ((3 << 53) | 0x405)

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

	/* the header above must stay packed: the code goes in .text */
	.text
primary_entry:
	mov	x19, x0			/* DTB */
	mrs	x20, CurrentEL
	ubfx	x20, x20, #2, #2	/* the EL we were entered at */
	cmp	x20, #2
	b.ne	1f
	bl	el2_to_el1
	b	2f
1:	ldr	x0, =SCTLR_EL1_MMU_OFF	/* whatever a loader left on */
	msr	sctlr_el1, x0
	isb
2:	msr	daifset, #0xf
	adr	x21, _start		/* where the loader put us */
	bl	build_boot_tables
	ldr	x26, =high_entry
	bl	enable_mmu		/* "returns" at x26, in the higher half */

high_entry:
	bl	leave_identity_map
	adrp	x0, __bss_start
	add	x0, x0, :lo12:__bss_start
	adrp	x1, __bss_end
	add	x1, x1, :lo12:__bss_end
3:	cmp	x0, x1
	b.hs	4f
	stp	xzr, xzr, [x0], #16
	b	3b

4:	adrp	x0, hart_locals		/* the boot hart is index 0 */
	add	x0, x0, :lo12:hart_locals
	msr	tpidr_el1, x0
	adrp	x0, arm64_entry_el
	str	x20, [x0, :lo12:arm64_entry_el]
	adrp	x0, kernel_phys_base
	str	x21, [x0, :lo12:kernel_phys_base]
	adrp	x0, boot_stack_top
	add	sp, x0, :lo12:boot_stack_top
	mrs	x0, mpidr_el1
	ldr	x1, =MPIDR_HWID_MASK
	and	x0, x0, x1
	mov	x1, x19
	bl	start_kernel
5:	wfi
	b	5b

/*
 * A hart released from a spin table (arch/arm64/smp.c): the firmware jumps
 * here with nothing of ours in a register; the entry and the argument are
 * in spin_table_args, read with the MMU off (at their physical address).
 * They are the hart_local of the hart released last: one that arrives
 * after the boot hart gave up on it, or that shares its release address
 * with another, finds another hart's ID there and waits (parked, as it
 * must be) rather than run on that hart's stack.
 */
	.globl	spin_table_entry
spin_table_entry:
	mrs	x2, mpidr_el1
	ldr	x3, =MPIDR_HWID_MASK
	and	x2, x2, x3
1:	adrp	x1, spin_table_args
	add	x1, x1, :lo12:spin_table_args
	ldp	x1, x0, [x1]
	ldr	x3, [x0, #HL_HARTID]
	cmp	x3, x2
	b.eq	2f
	wfe
	b	1b
2:	br	x1

/*
 * A hart started by smp_boot() through PSCI CPU_ON (or the spin table, above):
 * x0 = the physical address of its struct hart_local (kernel/smp.h), MMU
 * off, at EL1 or EL2.
 */
	.globl	secondary_entry
secondary_entry:
	mov	x19, x0
	mrs	x20, CurrentEL
	ubfx	x20, x20, #2, #2
	cmp	x20, #2
	b.ne	1f
	bl	el2_to_el1
	b	2f
1:	ldr	x0, =SCTLR_EL1_MMU_OFF
	msr	sctlr_el1, x0
	isb
2:	msr	daifset, #0xf
	ldr	x22, [x19, #HL_MMU]	/* the kernel's final tables */
	adrp	x23, boot_pt		/* and the boot identity map */
	add	x23, x23, #BOOT_PT_IDMAP
	ldr	x24, [x19, #HL_SELF]
	ldr	x25, [x19, #HL_STACK]
	ldr	x26, =secondary_high
	bl	enable_mmu

secondary_high:
	bl	leave_identity_map
	msr	tpidr_el1, x24
	mov	sp, x25
	mov	x0, x24
	bl	secondary_start

/* In the higher half: exception vectors, and no more walks through TTBR0. */
leave_identity_map:
	adrp	x0, vectors
	add	x0, x0, :lo12:vectors
	msr	vbar_el1, x0
	mrs	x0, tcr_el1
	orr	x0, x0, #TCR_EPD0
	msr	tcr_el1, x0
	isb
	tlbi	vmalle1
	dsb	nsh
	isb
	ret

/* x0 = the table entry pointing at the table x1 */
.macro	table_entry, slot, table
	orr	x0, \table, #PTE_TABLE
	str	x0, [\slot]
.endm

/*
 * The boot page tables, built with the MMU off (x22 = TTBR1 root,
 * x23 = TTBR0 root on return):
 *  - TTBR1: the first BOOT_DIRECT_MAP_SIZE of physical addresses in the
 *    direct-map window, 1 GiB Device blocks; the image at KERNEL_VIRT_BASE,
 *    4 KiB Normal pages read+write+execute, in up to BOOT_IMAGE_TABLES
 *    2 MiB blocks (C replaces all of it with the final, W^X tables);
 *  - TTBR0: the 2 MiB around enable_mmu's trampoline, identity-mapped, for
 *    the instructions between turning the MMU on and jumping high.
 */
build_boot_tables:
	adrp	x22, boot_pt
	adrp	x1, boot_pt_end
	mov	x0, x22
1:	stp	xzr, xzr, [x0], #16
	cmp	x0, x1
	b.lo	1b

	add	x2, x22, #PAGE_SIZE	/* L1 of the direct map */
	add	x3, x2, #PAGE_SIZE	/* L1, L2 and L3 of the image */
	add	x4, x3, #PAGE_SIZE
	add	x5, x4, #PAGE_SIZE
	add	x23, x22, #BOOT_PT_IDMAP	/* L0, L1, L2 of the identity map */
	add	x6, x23, #PAGE_SIZE
	add	x7, x6, #PAGE_SIZE

	/* direct map */
	ldr	x8, =((DIRECT_MAP_BASE >> 39) & 511) * 8
	add	x8, x8, x22
	table_entry x8, x2
	mov	x9, #BOOT_DIRECT_MAP_SIZE >> 30
	ldr	x10, =PTE_BOOT_DEVICE_BLOCK
	mov	x11, x2
	mov	x12, #1 << 30
2:	str	x10, [x11], #8
	add	x10, x10, x12
	subs	x9, x9, #1
	b.ne	2b

	/* the image */
	ldr	x8, =((KERNEL_VIRT_BASE >> 39) & 511) * 8
	add	x8, x8, x22
	table_entry x8, x3
	ldr	x8, =((KERNEL_VIRT_BASE >> 30) & 511) * 8
	add	x8, x8, x3
	table_entry x8, x4
	ldr	x8, =((KERNEL_VIRT_BASE >> 21) & 511) * 8
	add	x8, x8, x4
	mov	x9, #BOOT_IMAGE_TABLES	/* L3 tables in a row, one per 2 MiB */
	mov	x10, x5
5:	table_entry x8, x10
	add	x8, x8, #8
	add	x10, x10, #PAGE_SIZE
	subs	x9, x9, #1
	b.ne	5b
	adrp	x9, _end
	add	x9, x9, :lo12:_end
	sub	x9, x9, x21
	lsr	x9, x9, #PAGE_SHIFT	/* pages in the image */
	ldr	x10, =PTE_BOOT_RWX_PAGE
	orr	x10, x10, x21
3:	str	x10, [x5], #8
	add	x10, x10, #PAGE_SIZE
	subs	x9, x9, #1
	b.ne	3b

	/* identity map of the trampoline */
	adr	x9, mmu_on_trampoline
	ubfx	x8, x9, #39, #9
	add	x8, x23, x8, lsl #3
	table_entry x8, x6
	ubfx	x8, x9, #30, #9
	add	x8, x6, x8, lsl #3
	table_entry x8, x7
	ubfx	x8, x9, #21, #9
	add	x8, x7, x8, lsl #3
	and	x9, x9, #~((1 << 21) - 1)
	ldr	x10, =PTE_BOOT_RX_BLOCK
	orr	x10, x10, x9
	str	x10, [x8]

	/*
	 * The tables were written with the MMU (and so the data cache) off;
	 * discard any stale line the walker, which reads through the cache,
	 * could see instead.
	 */
	mrs	x9, ctr_el0
	ubfx	x9, x9, #16, #4		/* DminLine: log2 of words per line */
	mov	x10, #4
	lsl	x10, x10, x9
	adrp	x0, boot_pt
	adrp	x1, boot_pt_end
4:	dc	ivac, x0
	add	x0, x0, x10
	cmp	x0, x1
	b.lo	4b
	dsb	sy
	ret

/* Turns the MMU on with TTBR1 = x22, TTBR0 = x23 and goes on at the virtual address x26. */
enable_mmu:
	ldr	x0, =MAIR_EL1_KERNEL
	msr	mair_el1, x0
	mrs	x1, id_aa64mmfr0_el1
	ubfx	x1, x1, #0, #4		/* PARange */
	cmp	x1, #5			/* 48 bits is what the 4-level tables hold */
	mov	x2, #5
	csel	x1, x1, x2, ls
	ldr	x0, =TCR_BOOT
	orr	x0, x0, x1, lsl #TCR_IPS_SHIFT
	msr	tcr_el1, x0
	msr	ttbr0_el1, x23
	msr	ttbr1_el1, x22
	isb
	tlbi	vmalle1
	dsb	nsh
	isb
	ldr	x0, =SCTLR_EL1_MMU_ON
	mov	x1, x26
	b	mmu_on_trampoline

	/* Executed through the identity map: small and aligned so it never spans 2 MiB. */
	.balign	64
mmu_on_trampoline:
	msr	sctlr_el1, x0
	isb
	ic	iallu
	dsb	nsh
	isb
	br	x1

/* Configure EL1 as a plain AArch64 kernel EL and return to the caller at EL1. */
el2_to_el1:
	mov	x0, #HCR_EL2_RW
	msr	hcr_el2, x0
	mrs	x0, id_aa64pfr0_el1	/* GIC system registers: let EL1 use them (gic.c) */
	ubfx	x0, x0, #24, #4
	cbz	x0, 1f
	mrs	x0, ICC_SRE_EL2
	orr	x0, x0, #ICC_SRE_EL2_SRE
	orr	x0, x0, #ICC_SRE_EL2_ENABLE
	msr	ICC_SRE_EL2, x0
	isb
	msr	ICH_HCR_EL2, xzr
1:
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

	.section .boot_pt, "aw", %nobits
	.balign	PAGE_SIZE
boot_pt:
	.skip	(7 + BOOT_IMAGE_TABLES) * PAGE_SIZE
boot_pt_end:
