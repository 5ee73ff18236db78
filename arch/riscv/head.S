/* SPDX-License-Identifier: MIT */
/*
 * RISC-V entry. OpenSBI (or U-Boot's booti) enters in S-mode with the MMU off,
 * a0 = hart ID, a1 = DTB, at whatever address the image was loaded.
 */
#include <asm/csr.h>

#define R_RISCV_RELATIVE 3
#define BOOT_STACK_SIZE 16384

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

primary_entry:
	csrw	sie, zero
	csrw	sip, zero
	csrw	sscratch, zero
	lla	t0, trap_entry
	csrw	stvec, t0

	/* One hart boots; any other that gets here parks (harts are started later). */
	lla	t0, boot_lottery
	li	t1, 1
	amoadd.w t1, t1, (t0)
	bnez	t1, park

	mv	s0, a0
	mv	s1, a1

	/* Linked at CONFIG_KERNEL_LINK_ADDR, running where we were loaded:
	 * apply the R_RISCV_RELATIVE relocations with the difference. */
	lla	t0, _start
	li	t1, CONFIG_KERNEL_LINK_ADDR
	sub	t2, t0, t1
	lla	t3, __rela_start
	lla	t4, __rela_end
1:	bgeu	t3, t4, 3f
	ld	t5, 8(t3)		/* r_info */
	li	t6, R_RISCV_RELATIVE
	bne	t5, t6, 2f
	ld	t5, 0(t3)		/* r_offset */
	ld	t6, 16(t3)		/* r_addend */
	add	t5, t5, t2
	add	t6, t6, t2
	sd	t6, 0(t5)
2:	addi	t3, t3, 24
	j	1b

3:	lla	t0, __bss_start
	lla	t1, __bss_end
4:	bgeu	t0, t1, 5f
	sd	zero, 0(t0)
	addi	t0, t0, 8
	j	4b

5:	lla	sp, boot_stack_top
	mv	a0, s0
	mv	a1, s1
	call	start_kernel

park:
	wfi
	j	park

	.data
	.balign	4
boot_lottery:
	.word	0

	.bss
	.balign	16
boot_stack:
	.skip	BOOT_STACK_SIZE
	.globl	boot_stack_top
boot_stack_top:
