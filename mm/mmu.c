// SPDX-License-Identifier: MIT
/*
 * The portable page mapper (see include/mm/mmu.h). One recursive range
 * walker, walk(), does map, unmap and protect, twice per call: a dry pass
 * that only reads (validates, counts the table pages the change needs) and
 * a commit pass that writes, taking its table pages from a pool filled in
 * between. Tables that do not exist yet in the dry pass are "virtual": a
 * NULL table whose entries are all absent (a table to create) or all
 * leaves (a block to split).
 *
 * Addresses inside the walker are offsets: va masked to the format's
 * va_bits, so the upper half of Sv39 (or a TTBR1 tree) indexes as the
 * hardware does. va_of() turns an offset back into a full address.
 */
#include <kernel/compiler.h>
#include <kernel/errno.h>
#include <kernel/panic.h>
#include <mm/buddy.h>
#include <mm/frame.h>
#include <mm/mmu.h>
#include <mm/phys.h>
#include <string.h>

#define LEAF_MAX_SHIFT 30 /* 1 GiB */
#define MMU_DEAD_MAX 32	  /* table pages waiting for the flush that lets them go */

enum mmu_op_kind { OP_MAP, OP_UNMAP, OP_PROTECT };

struct mmu_op {
	struct mmu_space *s;
	const struct pte_format *f;
	enum mmu_op_kind kind;
	bool dry;
	int err;
	uint64_t begin;	   /* offset of the range's start */
	phys_addr_t pa;	   /* OP_MAP: pa of begin */
	unsigned int prot; /* OP_MAP, OP_PROTECT */
	unsigned int flags;
	unsigned long need; /* dry: table pages the commit takes */
	phys_addr_t pool;   /* prepared table pages, linked through their first word */
	unsigned long pool_n;
	uint64_t flush_va[MMU_FLUSH_THRESHOLD];
	unsigned int nr_flush;
	bool flush_all;
	phys_addr_t dead[MMU_DEAD_MAX];
	unsigned int nr_dead;
};

static unsigned int level_shift(const struct pte_format *f, unsigned int level)
{
	return PAGE_SHIFT + PTE_INDEX_BITS * (f->levels - 1 - level);
}

static uint64_t va_mask(const struct pte_format *f)
{
	return (1ULL << f->va_bits) - 1;
}

static uint64_t va_of(const struct mmu_space *s, uint64_t off)
{
	const struct pte_format *f = s->fmt;

	if (f->split_halves)
		return (s->flags & MMU_SPACE_UPPER) ? off | ~va_mask(f) : off;
	if (off >> (f->va_bits - 1))
		return off | ~va_mask(f);
	return off;
}

static pte_t *table_at(phys_addr_t pa)
{
	return phys_to_virt(pa);
}

static void write_pte(pte_t *p, pte_t v)
{
	*(volatile pte_t *)p = v;
}

/* ---- table pages ---------------------------------------------------------- */

static int table_alloc(struct mmu_space *s, phys_addr_t *pa)
{
	int err;

	if (s->alloc_table)
		return s->alloc_table(s, pa);
	err = buddy_alloc(0, pa);
	if (err)
		return err;
	frame_set_owner(*pa, 0, FRAME_PAGETABLE, 0, 0);
	return 0;
}

static void table_free(struct mmu_space *s, phys_addr_t pa)
{
	if (s->free_table)
		s->free_table(s, pa);
	else
		buddy_free(pa, 0);
}

static void pool_release(struct mmu_op *op)
{
	while (op->pool_n) {
		phys_addr_t pa = op->pool;

		op->pool = *table_at(pa);
		op->pool_n--;
		table_free(op->s, pa);
	}
}

static int pool_fill(struct mmu_op *op, unsigned long n)
{
	while (op->pool_n < n) {
		phys_addr_t pa;

		if (table_alloc(op->s, &pa)) {
			pool_release(op);
			return -ENOMEM;
		}
		*table_at(pa) = op->pool;
		op->pool = pa;
		op->pool_n++;
	}
	return 0;
}

static phys_addr_t pool_take(struct mmu_op *op)
{
	phys_addr_t pa = op->pool;

	if (!op->pool_n)
		panic("mmu: table pool empty (the dry pass miscounted)");
	op->pool = *table_at(pa);
	op->pool_n--;
	memset(table_at(pa), 0, PAGE_SIZE);
	op->s->nr_tables++;
	return pa;
}

/* ---- TLB ------------------------------------------------------------------ */

static void flush_now(struct mmu_op *op)
{
	const struct mmu_tlb_ops *tlb = op->s->tlb;

	if (tlb) {
		if (op->flush_all)
			tlb->flush_all(op->s);
		else
			for (unsigned int i = 0; i < op->nr_flush; i++)
				tlb->flush_page(op->s, op->flush_va[i]);
	}
	op->nr_flush = 0;
	op->flush_all = false;
}

/* A live leaf at offset off changed: flush it with the rest of the operation. */
static void flush_later(struct mmu_op *op, uint64_t off)
{
	if (op->flush_all)
		return;
	if (op->nr_flush == MMU_FLUSH_THRESHOLD)
		op->flush_all = true;
	else
		op->flush_va[op->nr_flush++] = va_of(op->s, off);
}

static void free_dead(struct mmu_op *op)
{
	for (unsigned int i = 0; i < op->nr_dead; i++)
		table_free(op->s, op->dead[i]);
	op->nr_dead = 0;
}

/* A table page is out of the tree: it goes back after a full flush. */
static void table_dead(struct mmu_op *op, phys_addr_t pa)
{
	if (op->nr_dead == MMU_DEAD_MAX) {
		op->flush_all = true;
		flush_now(op);
		free_dead(op);
	}
	op->dead[op->nr_dead++] = pa;
	op->flush_all = true;
	op->s->nr_tables--;
}

static void free_subtree(struct mmu_op *op, phys_addr_t pa, unsigned int level)
{
	pte_t *t = table_at(pa);

	for (unsigned int i = 0; i < PTE_PER_TABLE; i++)
		if (op->f->kind(t[i], level) == PTE_TABLE)
			free_subtree(op, op->f->addr(t[i]), level + 1);
	table_dead(op, pa);
}

static bool table_empty(const pte_t *t)
{
	for (unsigned int i = 0; i < PTE_PER_TABLE; i++)
		if (t[i])
			return false;
	return true;
}

/*
 * Replaces a valid entry (old, of kind old_kind) with new at offset off.
 * Break-before-make where the format needs it and the change is more than
 * permissions.
 */
static void replace_entry(struct mmu_op *op, pte_t *p, unsigned int level, uint64_t off,
			  pte_t old, enum pte_kind old_kind, pte_t new)
{
	const struct pte_format *f = op->f;
	enum pte_kind new_kind = f->kind(new, level);
	bool bbm = f->break_before_make &&
		   (old_kind != new_kind || f->addr(old) != f->addr(new) ||
		    (old_kind == PTE_LEAF &&
		     ((f->prot(old) ^ f->prot(new)) & MMU_PROT_DEVICE)));

	if (bbm) {
		write_pte(p, 0);
		flush_later(op, off);
		flush_now(op);
		write_pte(p, new);
	} else {
		write_pte(p, new);
		flush_later(op, off);
	}
	if (old_kind == PTE_TABLE)
		free_subtree(op, f->addr(old), level + 1);
}

static void set_entry(struct mmu_op *op, pte_t *p, unsigned int level, uint64_t off, pte_t new)
{
	pte_t old = *p;
	enum pte_kind kind = op->f->kind(old, level);

	if (kind == PTE_INVALID)
		write_pte(p, new);
	else if (old != new)
		replace_entry(op, p, level, off, old, kind, new);
}

/* ---- the walker ----------------------------------------------------------- */

static bool leaf_allowed(const struct mmu_op *op, unsigned int level)
{
	unsigned int shift = level_shift(op->f, level);

	if (shift > LEAF_MAX_SHIFT)
		return false;
	return shift == PAGE_SHIFT || !(op->flags & MMU_NO_BLOCKS);
}

static void walk(struct mmu_op *op, pte_t *t, enum pte_kind vkind, unsigned int level,
		 uint64_t begin, uint64_t end);

/* Descends into entry p (kind), creating the table (absent) or splitting the block (leaf). */
static void descend(struct mmu_op *op, pte_t *p, enum pte_kind kind, unsigned int level,
		    uint64_t ebeg, uint64_t b, uint64_t e)
{
	const struct pte_format *f = op->f;
	uint64_t csize = 1ULL << level_shift(f, level + 1);
	phys_addr_t child;
	pte_t *ct;

	if (kind == PTE_TABLE && p) {
		walk(op, table_at(f->addr(*p)), PTE_TABLE, level + 1, b, e);
		return;
	}
	if (op->dry) {
		/* a real or virtual absent entry / leaf: a new table, all absent / all leaves */
		op->need++;
		walk(op, NULL, kind, level + 1, b, e);
		return;
	}
	child = pool_take(op);
	ct = table_at(child);
	if (kind == PTE_LEAF) {
		phys_addr_t pa = f->addr(*p);
		unsigned int prot = f->prot(*p);

		for (unsigned int i = 0; i < PTE_PER_TABLE; i++)
			ct[i] = f->leaf(pa + i * csize, prot, level + 1);
		replace_entry(op, p, level, ebeg, *p, PTE_LEAF, f->table(child));
	} else {
		write_pte(p, f->table(child));
	}
	walk(op, ct, PTE_TABLE, level + 1, b, e);
}

static void walk_entry(struct mmu_op *op, pte_t *p, enum pte_kind kind, unsigned int level,
		       uint64_t ebeg, uint64_t b, uint64_t e)
{
	const struct pte_format *f = op->f;
	uint64_t esize = 1ULL << level_shift(f, level);
	bool full = b == ebeg && e - b == esize;

	switch (op->kind) {
	case OP_MAP: {
		phys_addr_t pa = op->pa + (b - op->begin);

		bool replace = op->flags & MMU_REPLACE;

		if (kind == PTE_LEAF && !replace) {
			op->err = -EEXIST;
			return;
		}
		/* without MMU_REPLACE a table is entered: only what is mapped in range is an error */
		if (full && leaf_allowed(op, level) && IS_ALIGNED(pa, esize) &&
		    (kind == PTE_INVALID || replace)) {
			if (!op->dry)
				set_entry(op, p, level, ebeg, f->leaf(pa, op->prot, level));
			return;
		}
		descend(op, p, kind, level, ebeg, b, e);
		return;
	}
	case OP_UNMAP:
		if (kind == PTE_INVALID)
			return;
		if (kind == PTE_LEAF && full) {
			if (!op->dry) {
				write_pte(p, 0);
				flush_later(op, ebeg);
			}
			return;
		}
		descend(op, p, kind, level, ebeg, b, e);
		if (!op->dry && f->kind(*p, level) == PTE_TABLE &&
		    table_empty(table_at(f->addr(*p)))) {
			phys_addr_t child = f->addr(*p);

			write_pte(p, 0);
			table_dead(op, child);
		}
		return;
	case OP_PROTECT:
		if (kind == PTE_INVALID) {
			op->err = -ENOENT;
			return;
		}
		if (kind == PTE_LEAF && full) {
			if (!op->dry)
				set_entry(op, p, level, ebeg, f->leaf(f->addr(*p), op->prot, level));
			return;
		}
		descend(op, p, kind, level, ebeg, b, e);
		return;
	}
}

/*
 * [begin, end) within the table t at level (t NULL: a virtual table whose
 * entries are all of kind vkind).
 */
static void walk(struct mmu_op *op, pte_t *t, enum pte_kind vkind, unsigned int level,
		 uint64_t begin, uint64_t end)
{
	unsigned int shift = level_shift(op->f, level);
	uint64_t esize = 1ULL << shift;
	uint64_t off = begin;

	while (off < end && !op->err) {
		uint64_t ebeg = off & ~(esize - 1);
		uint64_t e = MIN(end, ebeg + esize);
		unsigned int i = (off >> shift) & (PTE_PER_TABLE - 1);
		pte_t *p = t ? &t[i] : NULL;
		enum pte_kind kind = t ? op->f->kind(t[i], level) : vkind;

		walk_entry(op, p, kind, level, ebeg, off, e);
		off = e;
	}
}

static int run(struct mmu_op *op, uint64_t begin, uint64_t end)
{
	struct mmu_space *s = op->s;
	int err;

	op->f = s->fmt;
	op->begin = begin;
	op->dry = true;
	walk(op, table_at(s->root), PTE_TABLE, 0, begin, end);
	if (op->err)
		return op->err;
	err = pool_fill(op, op->need);
	if (err)
		return err;
	op->dry = false;
	walk(op, table_at(s->root), PTE_TABLE, 0, begin, end);
	flush_now(op);
	free_dead(op);
	pool_release(op); /* nothing left unless the dry pass overcounted */
	return 0;
}

/* ---- checks --------------------------------------------------------------- */

/* The offsets of [va, va + size) in s, or false if the range is not all in s. */
static bool range_ok(const struct mmu_space *s, uint64_t va, uint64_t size, uint64_t *begin)
{
	const struct pte_format *f = s->fmt;
	uint64_t last = va + size - 1;
	uint64_t top_va, top_last;

	if (!size || last < va || !IS_ALIGNED(va, PAGE_SIZE) || !IS_ALIGNED(size, PAGE_SIZE))
		return false;
	if (f->split_halves) {
		uint64_t want = (s->flags & MMU_SPACE_UPPER) ? ~0ULL >> f->va_bits : 0;

		if (va >> f->va_bits != want || last >> f->va_bits != want)
			return false;
	} else {
		top_va = va >> (f->va_bits - 1);
		top_last = last >> (f->va_bits - 1);
		if (top_va != top_last || (top_va != 0 && top_va != ~0ULL >> (f->va_bits - 1)))
			return false;
	}
	*begin = va & va_mask(f);
	return true;
}

static bool prot_ok(const struct mmu_space *s, unsigned int prot, unsigned int flags)
{
	if (prot & ~MMU_PROT_ALL || !(prot & MMU_PROT_READ))
		return false;
	if ((prot & MMU_PROT_WRITE) && (prot & MMU_PROT_EXEC) && !(flags & MMU_ALLOW_WX))
		return false;
	if ((prot & MMU_PROT_DEVICE) && (prot & MMU_PROT_EXEC))
		return false;
	(void)s;
	return true;
}

/* ---- API ------------------------------------------------------------------ */

int mmu_space_init(struct mmu_space *s, const struct pte_format *fmt,
		   const struct mmu_tlb_ops *tlb, unsigned int flags)
{
	phys_addr_t root;

	if (!fmt || (flags & MMU_SPACE_UPPER && !fmt->split_halves))
		return -EINVAL;
	s->fmt = fmt;
	s->tlb = tlb;
	s->flags = flags;
	s->nr_tables = 0;
	if (table_alloc(s, &root))
		return -ENOMEM;
	memset(table_at(root), 0, PAGE_SIZE);
	s->root = root;
	s->nr_tables = 1;
	return 0;
}

void mmu_space_destroy(struct mmu_space *s)
{
	struct mmu_op op = { .s = s, .kind = OP_UNMAP };

	/* unmapping whole top-level entries never splits: this cannot fail */
	run(&op, 0, 1ULL << s->fmt->va_bits);
	table_free(s, s->root);
	s->root = 0;
	s->nr_tables = 0;
}

int mmu_map(struct mmu_space *s, uint64_t va, phys_addr_t pa, uint64_t size, unsigned int prot,
	    unsigned int flags)
{
	struct mmu_op op = { .s = s, .kind = OP_MAP, .pa = pa, .prot = prot, .flags = flags };
	uint64_t begin;

	if (!range_ok(s, va, size, &begin) || !prot_ok(s, prot, flags) ||
	    !IS_ALIGNED(pa, PAGE_SIZE) || pa + size < pa || (pa + size - 1) >> s->fmt->pa_bits)
		return -EINVAL;
	op.prot &= s->fmt->prot_mask;
	return run(&op, begin, begin + size);
}

int mmu_unmap(struct mmu_space *s, uint64_t va, uint64_t size)
{
	struct mmu_op op = { .s = s, .kind = OP_UNMAP };
	uint64_t begin;

	if (!range_ok(s, va, size, &begin))
		return -EINVAL;
	return run(&op, begin, begin + size);
}

int mmu_protect(struct mmu_space *s, uint64_t va, uint64_t size, unsigned int prot,
		unsigned int flags)
{
	struct mmu_op op = { .s = s, .kind = OP_PROTECT, .prot = prot, .flags = flags };
	uint64_t begin;

	if (!range_ok(s, va, size, &begin) || !prot_ok(s, prot, flags))
		return -EINVAL;
	op.prot &= s->fmt->prot_mask;
	return run(&op, begin, begin + size);
}

int mmu_translate(struct mmu_space *s, uint64_t va, phys_addr_t *pa, unsigned int *prot,
		  uint64_t *leaf_size)
{
	const struct pte_format *f = s->fmt;
	pte_t *t = table_at(s->root);
	uint64_t off;

	if (!range_ok(s, va & ~(PAGE_SIZE - 1), PAGE_SIZE, &off))
		return -EINVAL;
	off = va & va_mask(f);
	for (unsigned int level = 0; level < f->levels; level++) {
		unsigned int shift = level_shift(f, level);
		pte_t pte = t[(off >> shift) & (PTE_PER_TABLE - 1)];

		switch (f->kind(pte, level)) {
		case PTE_INVALID:
			return -ENOENT;
		case PTE_TABLE:
			t = table_at(f->addr(pte));
			break;
		case PTE_LEAF:
			if (pa)
				*pa = f->addr(pte) + (off & ((1ULL << shift) - 1));
			if (prot)
				*prot = f->prot(pte);
			if (leaf_size)
				*leaf_size = 1ULL << shift;
			return 0;
		}
	}
	return -ENOENT;
}

static int iterate(struct mmu_space *s, pte_t *t, unsigned int level, uint64_t base,
		   mmu_iter_fn fn, void *arg)
{
	const struct pte_format *f = s->fmt;
	unsigned int shift = level_shift(f, level);
	int ret = 0;

	for (unsigned int i = 0; i < PTE_PER_TABLE && !ret; i++) {
		uint64_t off = base + ((uint64_t)i << shift);

		switch (f->kind(t[i], level)) {
		case PTE_INVALID:
			break;
		case PTE_TABLE:
			ret = iterate(s, table_at(f->addr(t[i])), level + 1, off, fn, arg);
			break;
		case PTE_LEAF:
			ret = fn(va_of(s, off), f->addr(t[i]), 1ULL << shift, f->prot(t[i]), arg);
			break;
		}
	}
	return ret;
}

int mmu_iterate(struct mmu_space *s, mmu_iter_fn fn, void *arg)
{
	return iterate(s, table_at(s->root), 0, 0, fn, arg);
}
