/* SPDX-License-Identifier: MIT */
#ifndef KERNEL_PL011_H
#define KERNEL_PL011_H

#include <kernel/types.h>

#define PL011_DR 0x00
#define PL011_FR 0x18
#define PL011_FR_TXFF (1u << 5)

/* For the early console, which knows the UART's address before the DT is read. */
void pl011_putc_at(uintptr_t base, char c);

#endif
