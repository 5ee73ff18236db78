/* SPDX-License-Identifier: MIT */
#ifndef ASM_CSR_H
#define ASM_CSR_H

#define SSTATUS_SIE (1UL << 1)
#define SSTATUS_SPP (1UL << 8)

#define SCAUSE_INTERRUPT (1UL << 63)

#ifndef __ASSEMBLY__
#define csr_read(csr)                                              \
	({                                                         \
		unsigned long v_;                                  \
		__asm__ volatile("csrr %0, " #csr : "=r"(v_));     \
		v_;                                                \
	})
#define csr_write(csr, val) __asm__ volatile("csrw " #csr ", %0" ::"rK"(val))
#endif

#endif
