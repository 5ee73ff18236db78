// SPDX-License-Identifier: MIT
/*
 * RISC-V Sv39, Sv48 and Sv57 entries (privileged spec, "Sv39: Page-Based
 * 39-bit Virtual-Memory System" and the two that extend it): 3, 4 or 5
 * levels of 512 entries, one entry format for all three: the PPN at bits
 * 53:10, flags V R W X U G A D at bits 0..7. A valid entry with R, W and X all clear
 * points at the next table; any of them makes it a leaf at that level
 * (4 KiB, 2 MiB or 1 GiB, whose lower PPN fields must be zero). A and D are
 * set up front, so hardware that faults instead of updating them (Svade)
 * never faults on our mappings. Sv39 has no memory type in the entry
 * (that is Svpbmt); device memory comes from the PMAs, so DEVICE is dropped.
 */
#include <mm/pte.h>

#define SV39_V (1ULL << 0)
#define SV39_R (1ULL << 1)
#define SV39_W (1ULL << 2)
#define SV39_X (1ULL << 3)
#define SV39_U (1ULL << 4)
#define SV39_G (1ULL << 5)
#define SV39_A (1ULL << 6)
#define SV39_D (1ULL << 7)
#define SV39_PPN_SHIFT 10
#define SV39_PPN_MASK ((1ULL << 44) - 1)

static enum pte_kind riscv_kind(pte_t pte, unsigned int level, unsigned int levels)
{
	if (!(pte & SV39_V))
		return PTE_INVALID;
	if (pte & (SV39_R | SV39_W | SV39_X))
		return PTE_LEAF;
	return level < levels - 1 ? PTE_TABLE : PTE_INVALID;
}

static enum pte_kind sv39_kind(pte_t pte, unsigned int level)
{
	return riscv_kind(pte, level, 3);
}

static enum pte_kind sv48_kind(pte_t pte, unsigned int level)
{
	return riscv_kind(pte, level, 4);
}

static enum pte_kind sv57_kind(pte_t pte, unsigned int level)
{
	return riscv_kind(pte, level, 5);
}

static phys_addr_t sv39_addr(pte_t pte)
{
	return ((pte >> SV39_PPN_SHIFT) & SV39_PPN_MASK) << 12;
}

static unsigned int sv39_prot(pte_t pte)
{
	unsigned int prot = 0;

	if (pte & SV39_R)
		prot |= MMU_PROT_READ;
	if (pte & SV39_W)
		prot |= MMU_PROT_WRITE;
	if (pte & SV39_X)
		prot |= MMU_PROT_EXEC;
	if (pte & SV39_U)
		prot |= MMU_PROT_USER;
	if (pte & SV39_G)
		prot |= MMU_PROT_GLOBAL;
	return prot;
}

static pte_t sv39_table(phys_addr_t pa)
{
	return ((pa >> 12) << SV39_PPN_SHIFT) | SV39_V;
}

static pte_t sv39_leaf(phys_addr_t pa, unsigned int prot, unsigned int level)
{
	pte_t pte = ((pa >> 12) << SV39_PPN_SHIFT) | SV39_V | SV39_A | SV39_D;

	(void)level;
	if (prot & MMU_PROT_READ)
		pte |= SV39_R;
	if (prot & MMU_PROT_WRITE)
		pte |= SV39_W;
	if (prot & MMU_PROT_EXEC)
		pte |= SV39_X;
	if (prot & MMU_PROT_USER)
		pte |= SV39_U;
	if (prot & MMU_PROT_GLOBAL)
		pte |= SV39_G;
	return pte;
}

/* The modes differ only in their depth, and so in how much they translate. */
#define RISCV_FORMAT(mode, nr_levels)                                        \
	{                                                                    \
		.name = #mode,                                               \
		.levels = nr_levels,                                         \
		.va_bits = 12 + 9 * (nr_levels),                             \
		.pa_bits = 56,                                               \
		.split_halves = false,                                       \
		.break_before_make = false,                                  \
		.prot_mask = MMU_PROT_ALL & ~MMU_PROT_DEVICE,                \
		.kind = mode##_kind,                                         \
		.addr = sv39_addr,                                           \
		.prot = sv39_prot,                                           \
		.table = sv39_table,                                         \
		.leaf = sv39_leaf,                                           \
		.leaf_step = 1ULL << SV39_PPN_SHIFT, /* PPN + 1 */           \
	}

const struct pte_format pte_format_sv39 = RISCV_FORMAT(sv39, 3);
const struct pte_format pte_format_sv48 = RISCV_FORMAT(sv48, 4);
const struct pte_format pte_format_sv57 = RISCV_FORMAT(sv57, 5);
