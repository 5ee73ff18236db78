/* SPDX-License-Identifier: MIT */
#ifndef KERNEL_PANIC_H
#define KERNEL_PANIC_H

#include <kernel/compiler.h>
#include <stdbool.h>

/* Prints "PANIC: <message>" and powers the machine off with a failure status. */
void panic(const char *fmt, ...) __printf(1, 2) __noreturn;

/*
 * The end of arch_poweroff() when nothing it tried powered the machine off:
 * one line that says so and what the exit status would have been
 * (scripts/qemu-run.sh ends QEMU on it, with that status), then this hart
 * waits with interrupts masked; the others already sleep in their idle loop.
 */
void halt(bool success) __noreturn;

/*
 * The DT's syscon-poweroff, for arch_poweroff() to try among its ways
 * (it carries no exit status): mapped by poweroff_init_from_dt() at boot,
 * written by poweroff_syscon(), which returns if there is none or it did
 * not work. kernel/poweroff.c.
 */
void poweroff_init_from_dt(const void *fdt);
void poweroff_syscon(void);

#endif
