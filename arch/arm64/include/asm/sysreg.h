/* SPDX-License-Identifier: MIT */
#ifndef ASM_SYSREG_H
#define ASM_SYSREG_H

#define HCR_EL2_RW (1 << 31)		/* EL1 runs AArch64 */
#define CNTHCTL_EL1PCTEN_EL1PCEN 0x3	/* EL1 may use the physical timer */
#define CPTR_EL2_NO_TRAPS 0x33ff	/* RES1 bits only: FP/SIMD not trapped */
#define SCTLR_EL1_MMU_OFF 0x30d00800	/* RES1 bits only: MMU and caches off, little-endian */
#define SPSR_EL1H_MASKED 0x3c5		/* EL1 using SP_EL1, D A I F masked */

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
