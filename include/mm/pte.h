/* SPDX-License-Identifier: MIT */
#ifndef MM_PTE_H
#define MM_PTE_H

/*
 * The per-architecture page-table entry layer under the portable mapper
 * (mm/mmu/mmu.c): a table of small functions that encode and decode one entry
 * at one level, and nothing else. It never reads or writes a table, never
 * allocates and never flushes. Both formats are plain C over bits, so the
 * host builds both into one program and tests them side by side; the
 * kernel uses the one of its architecture.
 *
 * Levels are counted from the root: level 0 is the root table, level
 * levels - 1 holds 4 KiB pages. An entry at level l maps
 * 2^(12 + 9 * (levels - 1 - l)) bytes. Leaves (pages and blocks) are
 * possible where that is 4 KiB, 2 MiB or 1 GiB.
 *
 * An absent entry is always 0, in both formats.
 */

#include <mm/port.h>

typedef uint64_t pte_t;

#define PTE_PER_TABLE 512
#define PTE_INDEX_BITS 9

/* Protection: what a mapping allows. */
#define MMU_PROT_READ 0x01
#define MMU_PROT_WRITE 0x02
#define MMU_PROT_EXEC 0x04
#define MMU_PROT_USER 0x08   /* user (U-mode / EL0) may access it */
#define MMU_PROT_GLOBAL 0x10 /* the same in every address space (no ASID match) */
#define MMU_PROT_DEVICE 0x20 /* device memory (arm64: MAIR index 1, nGnRE) */
#define MMU_PROT_ALL 0x3f

enum pte_kind {
	PTE_INVALID, /* absent (or malformed: the walker treats it as absent) */
	PTE_TABLE,   /* points at a next-level table */
	PTE_LEAF,    /* a page or a block */
};

struct pte_format {
	const char *name;
	unsigned int levels;   /* 3, 4, 5 (Sv39, Sv48, Sv57) or 4 (AArch64 4 KiB granule) */
	unsigned int va_bits;  /* 39, 48, 57 or 48 */
	unsigned int pa_bits;  /* output addresses below 2^pa_bits */
	bool split_halves;     /* AArch64: one table per half (TTBR0/TTBR1); Sv39: sign-extended */
	bool break_before_make; /* a live entry changing address, type or size goes through invalid */
	unsigned int prot_mask; /* protection bits the format keeps (Sv39 has no DEVICE) */

	enum pte_kind (*kind)(pte_t pte, unsigned int level);
	phys_addr_t (*addr)(pte_t pte);	      /* of a table or leaf entry */
	unsigned int (*prot)(pte_t leaf);     /* MMU_PROT_* of a leaf */
	pte_t (*table)(phys_addr_t table_pa); /* a next-level table entry */
	/* a leaf at level (pa aligned to the level's size), prot already validated */
	pte_t (*leaf)(phys_addr_t pa, unsigned int prot, unsigned int level);
	/*
	 * The next page's entry, for runs of leaves: a power of two such that
	 * leaf(pa + n * 4 KiB, prot, level) == leaf(pa, prot, level) + n * leaf_step
	 * for every level and every pa the format accepts, and kind() looks at
	 * no bit at or above it. 0: the encoding is not linear in pa (the
	 * mapper then calls leaf() for every entry).
	 */
	pte_t leaf_step;
};

extern const struct pte_format pte_format_sv39;
extern const struct pte_format pte_format_sv48;
extern const struct pte_format pte_format_sv57;
extern const struct pte_format pte_format_arm64;

/* MAIR_EL1 attribute indexes the arm64 format uses (the kernel programs MAIR to match). */
#define PTE_ARM64_ATTR_NORMAL 0 /* MAIR Attr0 = 0xff: normal, inner/outer write-back */
#define PTE_ARM64_ATTR_DEVICE 1 /* MAIR Attr1 = 0x04: device nGnRE */
#define PTE_ARM64_MAIR 0x04ffULL

#endif
