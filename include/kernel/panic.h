/* SPDX-License-Identifier: MIT */
#ifndef KERNEL_PANIC_H
#define KERNEL_PANIC_H

#include <kernel/compiler.h>

/* Prints "PANIC: <message>" and powers the machine off with a failure status. */
void panic(const char *fmt, ...) __printf(1, 2) __noreturn;

#endif
