/* SPDX-License-Identifier: MIT */
#ifndef ASM_BARRIER_H
#define ASM_BARRIER_H

/* Order device reads before later memory reads, and memory writes before device writes. */
#define io_rmb() __asm__ volatile("dmb oshld" ::: "memory")
#define io_wmb() __asm__ volatile("dmb oshst" ::: "memory")

#endif
