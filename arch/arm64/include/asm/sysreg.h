/* SPDX-License-Identifier: MIT */
#ifndef ASM_SYSREG_H
#define ASM_SYSREG_H

#define HCR_EL2_RW (1 << 31)		/* EL1 runs AArch64 */
#define CNTHCTL_EL1PCTEN_EL1PCEN 0x3	/* EL1 may use the physical timer */
#define CPTR_EL2_NO_TRAPS 0x33ff	/* RES1 bits only: FP/SIMD not trapped */
#define SCTLR_EL1_MMU_OFF 0x30d00800	/* RES1 bits only: MMU and caches off, little-endian */
/* SCTLR_EL1_MMU_OFF | M (MMU) | C (data cache) | SA (SP alignment check) | I (instruction cache) */
#define SCTLR_EL1_MMU_ON 0x30d0180d
/*
 * TCR_EL1 for both halves: 48-bit VAs (T0SZ = T1SZ = 16), 4 KiB granules,
 * walks inner/outer write-back cacheable, inner shareable. IPS is filled in
 * from ID_AA64MMFR0_EL1.PARange at boot.
 */
#define TCR_BOOT 0xb5103510
#define TCR_IPS_SHIFT 32
#define TCR_EPD0 (1 << 7)	/* no walks through TTBR0 */
/* Attr0 Normal write-back, Attr1 Device-nGnRE: PTE_ARM64_MAIR in mm/pte.h */
#define MAIR_EL1_KERNEL 0x04ff
#define SPSR_EL1H_MASKED 0x3c5		/* EL1 using SP_EL1, D A I F masked */

/* GICv3 at EL2, by encoding: SRE (system registers) and Enable (EL1 may use them) */
#define ICC_SRE_EL2 S3_4_C12_C9_5
#define ICC_SRE_EL2_SRE 0x1
#define ICC_SRE_EL2_ENABLE 0x8
#define ICH_HCR_EL2 S3_4_C12_C11_0

#define MPIDR_HWID_MASK 0xff00ffffffUL	/* Aff3 and Aff2..Aff0 */

#ifndef __ASSEMBLY__
#define read_sysreg(r)                                          \
	({                                                      \
		unsigned long v_;                               \
		__asm__ volatile("mrs %0, " #r : "=r"(v_));     \
		v_;                                             \
	})
#endif

#endif
