// SPDX-License-Identifier: MIT
/* Calls into the SBI firmware (OpenSBI) below us. */
#include <asm/sbi.h>

struct sbiret sbi_ecall(unsigned long ext, unsigned long fid, unsigned long a0,
			unsigned long a1, unsigned long a2, unsigned long a3)
{
	register unsigned long r_a0 __asm__("a0") = a0;
	register unsigned long r_a1 __asm__("a1") = a1;
	register unsigned long r_a2 __asm__("a2") = a2;
	register unsigned long r_a3 __asm__("a3") = a3;
	register unsigned long r_a6 __asm__("a6") = fid;
	register unsigned long r_a7 __asm__("a7") = ext;

	__asm__ volatile("ecall"
			 : "+r"(r_a0), "+r"(r_a1)
			 : "r"(r_a2), "r"(r_a3), "r"(r_a6), "r"(r_a7)
			 : "memory");
	return (struct sbiret){ .error = (long)r_a0, .value = (long)r_a1 };
}

bool sbi_probe(unsigned long ext)
{
	struct sbiret r = sbi_ecall(SBI_EXT_BASE, SBI_BASE_PROBE_EXTENSION, ext, 0, 0, 0);

	return r.error == 0 && r.value != 0;
}

void sbi_putchar(char c)
{
	sbi_ecall(SBI_EXT_LEGACY_PUTCHAR, 0, (unsigned char)c, 0, 0, 0);
}

void sbi_shutdown(bool success)
{
	if (sbi_probe(SBI_EXT_SRST))
		sbi_ecall(SBI_EXT_SRST, 0, SBI_SRST_SHUTDOWN,
			  success ? SBI_SRST_REASON_NONE : SBI_SRST_REASON_FAILURE, 0, 0);
	sbi_ecall(SBI_EXT_LEGACY_SHUTDOWN, 0, 0, 0, 0, 0);
}
