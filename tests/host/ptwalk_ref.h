/* SPDX-License-Identifier: MIT */
#ifndef TESTS_HOST_PTWALK_REF_H
#define TESTS_HOST_PTWALK_REF_H

/*
 * An independent reference walker for the mapper's tests: decodes Sv39,
 * Sv48, Sv57 and AArch64 (4 KiB granule, 48-bit) tables from the raw bits, written from
 * the architecture documents and sharing no code with mm/mmu/mmu.c or
 * mm/mmu/pte_*.c, and strict: an entry the hardware would reject or that the
 * mapper must never write (reserved encodings, a misaligned superpage, A/D
 * or AF clear, bits that must be zero) is reported as malformed.
 */

#include <kernel/types.h>
#include <stddef.h>

enum ref_fmt { REF_SV39, REF_SV48, REF_SV57, REF_ARM64 };

#define REF_UNMAPPED (-1)
#define REF_MALFORMED (-2)

struct ref_leaf {
	uint64_t pa;	/* of va itself */
	uint64_t size;	/* of the leaf */
	unsigned int prot; /* MMU_PROT_* bits as this walker reads them */
};

/* 0, REF_UNMAPPED or REF_MALFORMED (with a reason in *why if not NULL). */
int ref_walk(enum ref_fmt fmt, uint64_t root, uint64_t va, struct ref_leaf *out,
	     const char **why);

/* Every table page reachable from root, in walk order: pa then 4096 bytes. */
struct ref_dump {
	size_t nr, cap;
	uint64_t *pa;
	unsigned char *bytes;
};
void ref_dump_tables(enum ref_fmt fmt, uint64_t root, struct ref_dump *d);
bool ref_dump_equal(const struct ref_dump *a, const struct ref_dump *b);
void ref_dump_free(struct ref_dump *d);

#endif
