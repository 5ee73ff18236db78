/* SPDX-License-Identifier: MIT */
#ifndef ASM_SBI_H
#define ASM_SBI_H

#include <kernel/types.h>

#define SBI_EXT_LEGACY_PUTCHAR 0x01
#define SBI_EXT_LEGACY_SHUTDOWN 0x08
#define SBI_EXT_BASE 0x10
#define SBI_EXT_SRST 0x53525354
#define SBI_EXT_HSM 0x48534d
#define SBI_EXT_IPI 0x735049
#define SBI_EXT_RFENCE 0x52464e43

#define SBI_HSM_HART_START 0
#define SBI_HSM_HART_GET_STATUS 2
#define SBI_HSM_STARTED 0
#define SBI_HSM_START_PENDING 2
#define SBI_IPI_SEND 0
#define SBI_RFENCE_SFENCE_VMA 1

#define SBI_BASE_PROBE_EXTENSION 3
#define SBI_SRST_SHUTDOWN 0
#define SBI_SRST_REASON_NONE 0
#define SBI_SRST_REASON_FAILURE 1

struct sbiret {
	long error;
	long value;
};

struct sbiret sbi_ecall(unsigned long ext, unsigned long fid, unsigned long a0,
			unsigned long a1, unsigned long a2, unsigned long a3);
bool sbi_probe(unsigned long ext);
void sbi_putchar(char c);
void sbi_shutdown(bool success);

#endif
