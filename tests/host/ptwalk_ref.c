// SPDX-License-Identifier: MIT
/* The reference walker (see ptwalk_ref.h). */
#include <mm/phys.h>
#include <mm/pte.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ptwalk_ref.h"

static const uint64_t *page(uint64_t pa)
{
	return phys_to_virt(pa);
}

#define FAIL(msg)                  \
	do {                       \
		if (why)           \
			*why = (msg); \
		return REF_MALFORMED; \
	} while (0)

/*
 * Sv39, Sv48, Sv57 (levels 3, 4, 5): VPN[i] = va[20 + 9i:12 + 9i], the va
 * sign-extended from its top bit; a leaf is possible at every level.
 */
static int walk_sv(int levels, uint64_t root, uint64_t va, struct ref_leaf *out,
		   const char **why)
{
	uint64_t a = root;
	int unused = 64 - (12 + 9 * levels);
	int64_t sva = (int64_t)(va << unused) >> unused;

	if ((uint64_t)sva != va)
		FAIL("non-canonical va");
	for (int i = levels - 1; i >= 0; i--) {
		uint64_t pte = page(a)[(va >> (12 + 9 * i)) & 0x1ff];
		uint64_t ppn = (pte >> 10) & ((1ULL << 44) - 1);
		bool r = pte & 2, w = pte & 4, x = pte & 8;

		if (!(pte & 1))
			return REF_UNMAPPED;
		if (pte >> 54)
			FAIL("reserved high bits set");
		if (!r && w)
			FAIL("W without R");
		if (!r && !x) {
			if (i == 0)
				FAIL("pointer at the last level");
			if (pte & 0xf0)
				FAIL("U/G/A/D in a pointer");
			a = ppn << 12;
			continue;
		}
		if (i > 0 && (ppn & ((1ULL << (9 * i)) - 1)))
			FAIL("misaligned superpage");
		if (!(pte & 0x40) || !(pte & 0x80))
			FAIL("A or D clear");
		out->size = 1ULL << (12 + 9 * i);
		out->pa = (ppn << 12) | (va & (out->size - 1));
		out->prot = (r ? MMU_PROT_READ : 0) | (w ? MMU_PROT_WRITE : 0) |
			    (x ? MMU_PROT_EXEC : 0) | ((pte & 0x10) ? MMU_PROT_USER : 0) |
			    ((pte & 0x20) ? MMU_PROT_GLOBAL : 0);
		return 0;
	}
	FAIL("no leaf");
}

/* AArch64, 4 KiB granule, 48-bit: L0 va[47:39] .. L3 va[20:12]; one tree per half. */
static int walk_arm64(uint64_t root, uint64_t va, struct ref_leaf *out, const char **why)
{
	uint64_t a = root;
	uint64_t top = va >> 48;

	if (top != 0 && top != 0xffff)
		FAIL("non-canonical va");
	for (int lvl = 0; lvl <= 3; lvl++) {
		int shift = 39 - 9 * lvl;
		uint64_t d = page(a)[(va >> shift) & 0x1ff];
		uint64_t oa = d & 0x0000fffffffff000ULL;
		unsigned int attr, ap, prot;

		if (!(d & 1))
			return REF_UNMAPPED;
		if ((d & 2) && lvl < 3) {
			if (d & 0xfff & ~3ULL)
				FAIL("attributes in a table descriptor");
			a = oa;
			continue;
		}
		if (!(d & 2) && (lvl == 0 || lvl == 3))
			FAIL("block at level 0 or 3");
		if (oa & ((1ULL << shift) - 1))
			FAIL("misaligned block");
		if (!(d & (1ULL << 10)))
			FAIL("AF clear");
		if (d & (1ULL << 5))
			FAIL("NS set");
		if ((d >> 48) & 0xf)
			FAIL("res0 bits 51:48 set");
		attr = (d >> 2) & 7;
		if (attr > 1)
			FAIL("AttrIndx beyond our MAIR");
		if (attr == 0 && ((d >> 8) & 3) != 3)
			FAIL("normal memory not inner shareable");
		ap = (d >> 6) & 3;
		prot = MMU_PROT_READ;
		if (!(ap & 2))
			prot |= MMU_PROT_WRITE;
		if (ap & 1)
			prot |= MMU_PROT_USER;
		if (!(d & (1ULL << 11)))
			prot |= MMU_PROT_GLOBAL;
		if (attr == 1)
			prot |= MMU_PROT_DEVICE;
		/* executable for whoever may access it: EL0 through UXN, EL1 through PXN */
		if ((prot & MMU_PROT_USER) ? !(d & (1ULL << 54)) : !(d & (1ULL << 53)))
			prot |= MMU_PROT_EXEC;
		if ((prot & MMU_PROT_USER) && !(d & (1ULL << 53)))
			FAIL("user mapping executable by the kernel");
		out->size = 1ULL << shift;
		out->pa = oa | (va & (out->size - 1));
		out->prot = prot;
		return 0;
	}
	FAIL("no leaf");
}

int ref_walk(enum ref_fmt fmt, uint64_t root, uint64_t va, struct ref_leaf *out,
	     const char **why)
{
	switch (fmt) {
	case REF_SV39:
		return walk_sv(3, root, va, out, why);
	case REF_SV48:
		return walk_sv(4, root, va, out, why);
	case REF_SV57:
		return walk_sv(5, root, va, out, why);
	default:
		return walk_arm64(root, va, out, why);
	}
}

/* Room for twice as many at a time: a tree of 1024 tables copied page by page is 2 GiB of copies.
 */
static void dump_add(struct ref_dump *d, uint64_t pa)
{
	if (d->nr == d->cap) {
		d->cap = d->cap ? 2 * d->cap : 16;
		d->pa = realloc(d->pa, d->cap * sizeof(*d->pa));
		d->bytes = realloc(d->bytes, d->cap * 4096);
		if (!d->pa || !d->bytes) {
			fprintf(stderr, "ref_dump_tables: out of memory at %zu tables\n", d->nr);
			abort();
		}
	}
	d->pa[d->nr] = pa;
	memcpy(d->bytes + d->nr * 4096, page(pa), 4096);
	d->nr++;
}

static void dump_rec(enum ref_fmt fmt, uint64_t pa, int lvl, struct ref_dump *d)
{
	int last = fmt == REF_SV39 ? 2 : fmt == REF_SV57 ? 4 : 3;

	dump_add(d, pa);
	if (lvl == last)
		return;
	for (int i = 0; i < 512; i++) {
		uint64_t e = page(pa)[i];

		if (fmt != REF_ARM64 && (e & 1) && !(e & 0xe))
			dump_rec(fmt, ((e >> 10) & ((1ULL << 44) - 1)) << 12, lvl + 1, d);
		if (fmt == REF_ARM64 && (e & 3) == 3)
			dump_rec(fmt, e & 0x0000fffffffff000ULL, lvl + 1, d);
	}
}

void ref_dump_tables(enum ref_fmt fmt, uint64_t root, struct ref_dump *d)
{
	memset(d, 0, sizeof(*d));
	dump_rec(fmt, root, 0, d);
}

bool ref_dump_equal(const struct ref_dump *a, const struct ref_dump *b)
{
	return a->nr == b->nr && !memcmp(a->pa, b->pa, a->nr * sizeof(*a->pa)) &&
	       !memcmp(a->bytes, b->bytes, a->nr * 4096);
}

void ref_dump_free(struct ref_dump *d)
{
	free(d->pa);
	free(d->bytes);
	memset(d, 0, sizeof(*d));
}
