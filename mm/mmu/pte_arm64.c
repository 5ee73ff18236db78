// SPDX-License-Identifier: MIT
/*
 * AArch64 VMSAv8-64 stage 1 descriptors, 4 KiB granule, 48-bit VA: levels
 * 0..3. Bits 1:0 = 0b11 is a table at levels 0-2 and a page at level 3;
 * 0b01 is a block at levels 1 (1 GiB) and 2 (2 MiB); bit 0 clear is
 * invalid. Leaf attributes: AttrIndx[4:2] (MAIR index), AP[7:6] (AP[2] =
 * read-only, AP[1] = EL0 access), SH[9:8] (inner shareable for normal
 * memory), AF[10] (set up front: no access-flag faults), nG[11], PXN[53],
 * UXN[54]. Output address bits 47:12.
 *
 * Execute: a user-executable mapping is never kernel-executable (PXN set),
 * a kernel-executable one never user-executable (UXN set); a mapping
 * without EXEC has both.
 */
#include <mm/pte.h>

#define A64_VALID (1ULL << 0)
#define A64_TABLE_OR_PAGE (1ULL << 1)
#define A64_ATTRIDX_SHIFT 2
#define A64_ATTRIDX_MASK (7ULL << A64_ATTRIDX_SHIFT)
#define A64_AP_EL0 (1ULL << 6) /* AP[1] */
#define A64_AP_RO (1ULL << 7)  /* AP[2] */
#define A64_SH_INNER (3ULL << 8)
#define A64_AF (1ULL << 10)
#define A64_NG (1ULL << 11)
#define A64_PXN (1ULL << 53)
#define A64_UXN (1ULL << 54)
#define A64_ADDR_MASK 0x0000fffffffff000ULL

static enum pte_kind arm64_kind(pte_t pte, unsigned int level)
{
	if (!(pte & A64_VALID))
		return PTE_INVALID;
	if (pte & A64_TABLE_OR_PAGE)
		return level < 3 ? PTE_TABLE : PTE_LEAF;
	return level == 1 || level == 2 ? PTE_LEAF : PTE_INVALID;
}

static phys_addr_t arm64_addr(pte_t pte)
{
	return pte & A64_ADDR_MASK;
}

static unsigned int arm64_prot(pte_t pte)
{
	unsigned int prot = MMU_PROT_READ;

	if (!(pte & A64_AP_RO))
		prot |= MMU_PROT_WRITE;
	if (pte & A64_AP_EL0)
		prot |= MMU_PROT_USER;
	if (!(pte & A64_NG))
		prot |= MMU_PROT_GLOBAL;
	if (((pte & A64_ATTRIDX_MASK) >> A64_ATTRIDX_SHIFT) == PTE_ARM64_ATTR_DEVICE)
		prot |= MMU_PROT_DEVICE;
	if (!(pte & ((prot & MMU_PROT_USER) ? A64_UXN : A64_PXN)))
		prot |= MMU_PROT_EXEC;
	return prot;
}

static pte_t arm64_table(phys_addr_t pa)
{
	return (pa & A64_ADDR_MASK) | A64_VALID | A64_TABLE_OR_PAGE;
}

static pte_t arm64_leaf(phys_addr_t pa, unsigned int prot, unsigned int level)
{
	pte_t pte = (pa & A64_ADDR_MASK) | A64_VALID | A64_AF;

	if (level == 3)
		pte |= A64_TABLE_OR_PAGE;
	if (prot & MMU_PROT_DEVICE)
		pte |= (pte_t)PTE_ARM64_ATTR_DEVICE << A64_ATTRIDX_SHIFT;
	else
		pte |= ((pte_t)PTE_ARM64_ATTR_NORMAL << A64_ATTRIDX_SHIFT) | A64_SH_INNER;
	if (!(prot & MMU_PROT_WRITE))
		pte |= A64_AP_RO;
	if (prot & MMU_PROT_USER)
		pte |= A64_AP_EL0;
	if (!(prot & MMU_PROT_GLOBAL))
		pte |= A64_NG;
	if (!(prot & MMU_PROT_EXEC))
		pte |= A64_PXN | A64_UXN;
	else if (prot & MMU_PROT_USER)
		pte |= A64_PXN;
	else
		pte |= A64_UXN;
	return pte;
}

const struct pte_format pte_format_arm64 = {
	.name = "arm64",
	.levels = 4,
	.va_bits = 48,
	.pa_bits = 48,
	.split_halves = true,
	.break_before_make = true,
	.prot_mask = MMU_PROT_ALL,
	.kind = arm64_kind,
	.addr = arm64_addr,
	.prot = arm64_prot,
	.table = arm64_table,
	.leaf = arm64_leaf,
	.leaf_step = 1ULL << 12, /* output address + 4 KiB */
};
