/* SPDX-License-Identifier: MIT */
#ifndef KERNEL_ARCH_H
#define KERNEL_ARCH_H

/*
 * What the portable kernel asks of an architecture (arch/<arch>/). Keep it
 * small: only what really differs between the harts of RISC-V and AArch64.
 */

#include <kernel/compiler.h>
#include <kernel/types.h>

/* The kernel image, at its virtual address (from the linker script). */
extern char _start[], _stext[], _etext[], _erodata[], _end[];

/*
 * Entered once, on the boot hart, in the higher half with the boot page
 * tables (see include/kernel/kmap.h); dtb is the DTB's physical address.
 */
void start_kernel(uint64_t boot_hartid, phys_addr_t dtb) __noreturn;

/* A short name of the CPU's mode at entry, e.g. "S-mode" or "EL1 (entered at EL2)". */
const char *arch_describe_entry(void);

/* Writes to the early console, if the arch has one; false when it has none. */
bool arch_early_console_write(const char *s, size_t len);

/* Reads what the arch needs from the device tree: power-off device, PSCI conduit. */
void arch_init_from_dt(const void *fdt);

/* Powers the machine off; success decides the exit status QEMU reports. */
void arch_poweroff(bool success) __noreturn;

/*
 * The hart's retired-instruction and cycle counters, for benchmarks. Under
 * QEMU with -icount shift=0 both count guest instructions exactly.
 * arch_counters_init() enables them where the arch needs that.
 */
void arch_counters_init(void);
uint64_t arch_read_instret(void);
uint64_t arch_read_cycles(void);

/*
 * The MMU: the PTE format and TLB maintenance of the kernel's space, the
 * flags it is created with (MMU_SPACE_UPPER where the kernel half has its own
 * tables), and loading a root on this hart (with a full local TLB flush).
 */
struct pte_format;
struct mmu_tlb_ops;
extern const struct pte_format *arch_kernel_pte_format;
extern const struct mmu_tlb_ops arch_kernel_tlb_ops;
extern const unsigned int arch_kernel_space_flags;
void arch_mmu_load(phys_addr_t root);
phys_addr_t arch_mmu_root(void);

/*
 * Once, on the boot hart, with the DTB checked and before anything keeps a
 * pointer into the direct map: picks the translation mode (RISC-V: the
 * widest of Sv57, Sv48, Sv39 that the hart takes and the command line's
 * no5lvl / no4lvl allow) and moves the boot tables to it. DIRECT_MAP_BASE,
 * DIRECT_MAP_SIZE and arch_kernel_pte_format are final from then on.
 */
void arch_mmu_pick_mode(const void *fdt);

/*
 * A free-running clock for timeouts, in ticks of arch_time_hz() per second
 * (never 0). Under QEMU without -icount it follows the host's clock, so a
 * wait measured with it lasts as long however slowly the guest runs.
 */
uint64_t arch_read_time(void);
uint64_t arch_time_hz(void);

/* Waits for an interrupt with interrupts masked: the idle loop of a parked hart. */
void arch_wait_forever(void) __noreturn;

#endif
