/* SPDX-License-Identifier: MIT */
/*
 * RISC-V entry. OpenSBI (or U-Boot's booti) enters in S-mode with the MMU off,
 * a0 = hart ID, a1 = DTB, at whatever address the image was loaded. We map
 * the image at its link address (the higher half), turn on Sv39 and go on
 * there; start_kernel() gets the hart ID and the DTB's physical address.
 * (C moves to Sv48 or Sv57 next, where the hart takes them: arch/riscv/mmu.c.)
 */
#include <asm/csr.h>
#include <asm/layout.h>
#include <kernel/smp.h>

#define BOOT_STACK_SIZE 16384
#define PAGE_SHIFT 12
#define PAGE_SIZE 4096
#define SATP_MODE_SV39 (8 << 60)
#define PTE_PPN_SHIFT 10
#define PTE_V 0x01
/* V R W (X) G A D: global kernel pages, accessed and dirty already */
#define PTE_BOOT_RW 0xe7
#define PTE_BOOT_RWX 0xef

	.section .head.text, "ax"
	/* The Linux RISC-V image header, which U-Boot's booti checks.
	 * No compressed instructions: the first jump must be 4 bytes. */
	.option push
	.option norvc
	.globl _start
_start:
	j	primary_entry		/* code0 */
	.word	0			/* code1 */
	.dword	0x200000		/* text_offset, as Linux */
	/* image_size (including bss) comes from the linker script */
	.section .head.text.rest, "ax"
	.dword	0			/* flags: little-endian */
	.word	2			/* version 0.2 */
	.word	0			/* res1 */
	.dword	0			/* res2 */
	.ascii	"RISCV\0\0\0"		/* magic (deprecated) */
	.ascii	"RSC\x05"		/* magic2 */
	.word	0			/* res3: no PE header */
	.option pop

	/* the header above must stay packed: the code goes in .text */
	.text
primary_entry:
	csrw	sie, zero
	csrw	sip, zero
	csrw	sscratch, zero
	csrw	satp, zero

	/* One hart boots; any other that gets here parks (harts are started later). */
	lla	t0, boot_lottery
	li	t1, 1
	amoadd.w t1, t1, (t0)
	bnez	t1, park

	mv	s0, a0
	mv	s1, a1
	lla	s2, _start		/* where the loader put us */
	call	build_boot_tables

	/*
	 * Turn on translation. The next fetch, from the physical address
	 * nothing maps any more, faults to stvec, which is already the
	 * virtual address of high_entry: that is the jump (as Linux does).
	 */
	ld	t1, high_entry_va
	csrw	stvec, t1
	srli	t0, s3, PAGE_SHIFT
	li	t2, SATP_MODE_SV39
	or	t0, t0, t2
	sfence.vma
	csrw	satp, t0
	jr	t1

	.balign	4
high_entry:
	lla	t0, trap_entry
	csrw	stvec, t0
	lla	t0, __bss_start
	lla	t1, __bss_end
1:	bgeu	t0, t1, 2f
	sd	zero, 0(t0)
	addi	t0, t0, 8
	j	1b

2:	lla	sp, boot_stack_top
	lla	tp, hart_locals		/* the boot hart is index 0 */
	lla	t0, kernel_phys_base
	sd	s2, 0(t0)
	mv	a0, s0
	mv	a1, s1
	call	start_kernel

/*
 * A hart that lost the lottery. OpenSBI before 1.3 also sends a hart it is
 * starting here, to the payload's entry, when the hart wakes before
 * hart_start stored the address it was asked for (the state goes first):
 * such a hart waits for smp_boot() to post its struct hart_local in
 * smp_stray_call and wake it, then goes on as it was asked to.
 */
park:
	wfi
	lla	t0, smp_stray_call
	ld	t1, 0(t0)
	beqz	t1, park
	ld	t2, HL_HARTID(t1)
	bne	t2, a0, park
	mv	a1, t1
	j	secondary_entry

/*
 * A hart beyond MAX_HARTS, started here by smp_boot(): with no S-mode
 * interrupt enabled, wfi sleeps until the firmware's own; it never leaves.
 */
	.globl	park_for_good
	.balign	4
park_for_good:
	csrw	sie, zero
1:	wfi
	j	1b

/*
 * A hart started by smp_boot() through SBI HSM: a0 = hart ID, a1 = the
 * physical address of its struct hart_local (kernel/smp.h), MMU off.
 */
	.globl	secondary_entry
	.balign	4
secondary_entry:
	csrw	sie, zero
	csrw	sip, zero
	sd	a0, HL_ENTRY_HARTID(a1)
	ld	t0, HL_MMU(a1)
	ld	tp, HL_SELF(a1)
	ld	sp, HL_STACK(a1)
	ld	t1, secondary_high_va
	csrw	stvec, t1
	sfence.vma
	csrw	satp, t0
	jr	t1

	.balign	4
secondary_high:
	lla	t0, trap_entry
	csrw	stvec, t0
	mv	a0, tp
	call	secondary_start

/*
 * The boot page tables (s3 = root on return), built with the MMU off:
 *  - the direct-map window, 1 GiB pages straight in the root;
 *  - the image at KERNEL_VIRT_BASE, 4 KiB pages read+write+execute, in
 *    up to BOOT_IMAGE_TABLES 2 MiB blocks (C replaces all of it with the
 *    final, W^X tables).
 */
build_boot_tables:
	lla	s3, boot_pt
	lla	t1, boot_pt_end
	mv	t0, s3
1:	sd	zero, 0(t0)
	addi	t0, t0, 8
	bltu	t0, t1, 1b

	li	t0, SV39_DIRECT_MAP_SIZE >> 30	/* gigabytes */
	li	t1, PTE_BOOT_RW
	li	t2, 1 << (30 - PAGE_SHIFT + PTE_PPN_SHIFT)
	li	t3, ((SV39_DIRECT_MAP_BASE >> 30) & 511) * 8
	add	t3, t3, s3
2:	sd	t1, 0(t3)
	add	t1, t1, t2
	addi	t3, t3, 8
	addi	t0, t0, -1
	bnez	t0, 2b

	li	t0, PAGE_SIZE
	add	t4, s3, t0		/* level-1 table of the image's gigabyte */
	add	t5, t4, t0		/* level-2 tables of its 2 MiB blocks, in a row */
	srli	t1, t4, PAGE_SHIFT
	slli	t1, t1, PTE_PPN_SHIFT
	ori	t1, t1, PTE_V
	li	t3, ((KERNEL_VIRT_BASE >> 30) & 511) * 8
	add	t3, t3, s3
	sd	t1, 0(t3)
	srli	t1, t5, PAGE_SHIFT
	slli	t1, t1, PTE_PPN_SHIFT
	ori	t1, t1, PTE_V
	li	t3, ((KERNEL_VIRT_BASE >> 21) & 511) * 8
	add	t3, t3, t4
	li	t2, BOOT_IMAGE_TABLES
	li	t6, 1 << PTE_PPN_SHIFT	/* the next page's PPN */
4:	sd	t1, 0(t3)
	add	t1, t1, t6
	addi	t3, t3, 8
	addi	t2, t2, -1
	bnez	t2, 4b

	lla	t0, _end
	sub	t0, t0, s2
	srli	t0, t0, PAGE_SHIFT	/* pages in the image */
	srli	t1, s2, PAGE_SHIFT
	slli	t1, t1, PTE_PPN_SHIFT
	ori	t1, t1, PTE_BOOT_RWX
	li	t2, 1 << PTE_PPN_SHIFT
3:	sd	t1, 0(t5)
	add	t1, t1, t2
	addi	t5, t5, 8
	addi	t0, t0, -1
	bnez	t0, 3b
	ret

	.balign	8
high_entry_va:
	.dword	high_entry
secondary_high_va:
	.dword	secondary_high

	.data
	.balign	4
boot_lottery:
	.word	0

	.balign	8
	.globl	smp_stray_call
smp_stray_call:				/* physical address of a struct hart_local, or 0 */
	.dword	0

	.bss
	.balign	16
boot_stack:
	.skip	BOOT_STACK_SIZE
	.globl	boot_stack_top
boot_stack_top:

	.section .boot_pt, "aw", @nobits
	.balign	PAGE_SIZE
boot_pt:
	.skip	(2 + BOOT_IMAGE_TABLES) * PAGE_SIZE
boot_pt_end:
