/* SPDX-License-Identifier: MIT */
#ifndef KERNEL_COMPILER_H
#define KERNEL_COMPILER_H

/* The helpers mm/ defines (ALIGN_UP, MIN, likely, __printf, PAGE_SIZE, ...), and the kernel's own. */
#include <mm/port_defaults.h>

#define __weak __attribute__((weak))
#define __section(s) __attribute__((section(s)))

#endif
