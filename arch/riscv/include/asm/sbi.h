/* SPDX-License-Identifier: MIT */
#ifndef ASM_SBI_H
#define ASM_SBI_H

#include <kernel/types.h>

#define SBI_EXT_LEGACY_PUTCHAR 0x01
#define SBI_EXT_LEGACY_SHUTDOWN 0x08
#define SBI_EXT_BASE 0x10
#define SBI_EXT_SRST 0x53525354

#define SBI_BASE_PROBE_EXTENSION 3
#define SBI_SRST_SHUTDOWN 0
#define SBI_SRST_REASON_NONE 0
#define SBI_SRST_REASON_FAILURE 1

struct sbiret {
	long error;
	long value;
};

struct sbiret sbi_ecall(unsigned long ext, unsigned long fid, unsigned long a0,
			unsigned long a1, unsigned long a2);
bool sbi_probe(unsigned long ext);
void sbi_putchar(char c);
void sbi_shutdown(bool success);

#endif
