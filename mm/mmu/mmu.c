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
 *
 * Fast paths, where the format's leaf encoding is linear in pa
 * (pte_format.leaf_step); each does exactly what the entry-by-entry walk
 * would, or declines before changing anything:
 * - whole_entries(): the entries of a table that a range covers whole get
 *   the same treatment, as one run. A map whose run becomes leaves (4 KiB
 *   pages, or blocks where allowed and aligned) only checks in its dry
 *   pass that the run is all absent (in a table still to be created there
 *   is nothing to check at all), and its commit writes leaf(pa) plus one
 *   increment per entry; an unmap clears a run's leaves inline, has
 *   nothing to do in its dry pass, and tells whether it left the run all
 *   absent, so the emptiness check of the table only reads the rest. An
 *   entry that is not what the run expects (something to refuse, replace,
 *   enter or leave alone) goes through walk_entry().
 * - descend(): a table that a map creates and turns into leaves entirely
 *   is written whole and then linked, without being zeroed first.
 * - within_leaf_table(): a map or unmap within one existing last-level
 *   table that needs no table page and frees none (a heap's page-sized
 *   calls) is done in one pass, after one descent.
 */
#include <mm/buddy.h>
#include <mm/frame.h>
#include <mm/mmu.h>
#include <mm/phys.h>
#include <mm/port.h>
#include <string.h>

#define LEAF_MAX_SHIFT 30 /* 1 GiB */

/*
 * W+X is refused whatever the caller's flags, in every build (a kernel of
 * any .config, a host program), unless built with the debug option.
 */
#ifdef CONFIG_MMU_DEBUG_ALLOW_WX
#define WX_POSSIBLE true
#else
#define WX_POSSIBLE false
#endif

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
	struct mmu_deferred pend; /* the flush and the dead tables, until the end (or the caller) */
	bool made_valid; /* an absent entry became valid: the sync hook runs at the end */
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

/*
 * A new table's entries (zeroes, or leaves written without zeroing) are
 * ordered before the entry that links it: a walker that reaches the table
 * never finds what the page held before.
 */
static void link_barrier(void)
{
	__atomic_thread_fence(__ATOMIC_RELEASE);
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

/* A prepared table page: zeroed, or as it is when the caller writes every entry. */
static phys_addr_t pool_take(struct mmu_op *op, bool zero)
{
	phys_addr_t pa = op->pool;

	if (!op->pool_n)
		panic("mmu: table pool empty (the dry pass miscounted)");
	op->pool = *table_at(pa);
	op->pool_n--;
	if (zero)
		memset(table_at(pa), 0, PAGE_SIZE);
	op->s->nr_tables++;
	return pa;
}

/* ---- TLB ------------------------------------------------------------------ */

static void flush_pending(struct mmu_deferred *d)
{
	const struct mmu_tlb_ops *tlb = d->s->tlb;

	if (tlb) {
		if (d->flush_all)
			tlb->flush_all(d->s);
		else if (tlb->flush_pages && d->nr_flush)
			tlb->flush_pages(d->s, d->flush_va, d->nr_flush);
		else
			for (unsigned int i = 0; i < d->nr_flush; i++)
				tlb->flush_page(d->s, d->flush_va[i]);
	}
	d->nr_flush = 0;
	d->flush_all = false;
}

static void flush_now(struct mmu_op *op)
{
	flush_pending(&op->pend);
}

/* A live leaf at offset off changed: flush it with the rest of the operation. */
static void flush_later(struct mmu_op *op, uint64_t off)
{
	if (op->pend.flush_all)
		return;
	if (op->pend.nr_flush == MMU_FLUSH_THRESHOLD)
		op->pend.flush_all = true;
	else
		op->pend.flush_va[op->pend.nr_flush++] = va_of(op->s, off);
}

static void free_pending_dead(struct mmu_deferred *d)
{
	for (unsigned int i = 0; i < d->nr_dead; i++)
		table_free(d->s, d->dead[i]);
	d->nr_dead = 0;
}

static void free_dead(struct mmu_op *op)
{
	free_pending_dead(&op->pend);
}

/* A table page is out of the tree: it goes back after a full flush. */
static void table_dead(struct mmu_op *op, phys_addr_t pa)
{
	if (op->pend.nr_dead == MMU_DEAD_MAX) {
		op->pend.flush_all = true;
		flush_now(op);
		free_dead(op);
	}
	op->pend.dead[op->pend.nr_dead++] = pa;
	op->pend.flush_all = true;
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

/*
 * Whether table t is all absent, its entries [i0, i1) being known to be
 * (i0 == i1: nothing known). The neighbours of the range first: after an
 * unmap in the middle of a mapped area, one of them usually answers.
 */
static bool table_empty(const pte_t *t, unsigned int i0, unsigned int i1)
{
	if ((i1 < PTE_PER_TABLE && t[i1]) || (i0 > 0 && t[i0 - 1]))
		return false;
	for (unsigned int i = i1; i < PTE_PER_TABLE; i++)
		if (t[i])
			return false;
	for (unsigned int i = 0; i < i0; i++)
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
		op->made_valid = true; /* over the absent entry the flush left */
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

	if (kind == PTE_INVALID) {
		write_pte(p, new);
		op->made_valid = true;
	} else if (old != new)
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

/* Index in a table at level of the entry holding offset off. */
static unsigned int index_of(const struct pte_format *f, unsigned int level, uint64_t off)
{
	return (off >> level_shift(f, level)) & (PTE_PER_TABLE - 1);
}

/* What one entry's worth of output address adds to a leaf at level. */
static pte_t leaf_inc(const struct pte_format *f, unsigned int level)
{
	return f->leaf_step << (level_shift(f, level) - PAGE_SHIFT);
}

/* n consecutive leaves from pte, inc apart, into a table the walker cannot reach yet. */
static void fill_leaves(pte_t *t, unsigned int n, pte_t pte, pte_t inc)
{
	for (unsigned int i = 0; i < n; i++, pte += inc)
		write_pte(&t[i], pte);
}

static void walk_entry(struct mmu_op *op, pte_t *p, enum pte_kind kind, unsigned int level,
		       uint64_t ebeg, uint64_t b, uint64_t e);

/* walk_entry() for the whole entry p at level, at offset off. */
static void walk_whole_entry(struct mmu_op *op, pte_t *p, unsigned int level, uint64_t off)
{
	walk_entry(op, p, op->f->kind(*p, level), level, off, off,
		   off + (1ULL << level_shift(op->f, level)));
}

/*
 * A map over the whole entries p[0..n) at level from offset off, every one
 * of which becomes a leaf (a page, or a block: the caller checked that the
 * level allows it and pa is aligned). p NULL: a virtual table, all vkind.
 * Dry: whether they are all absent, in which case there is nothing to check
 * or count (false: the caller walks them entry by entry). Commit: writes
 * leaf(pa) plus leaf_inc() per entry; an entry not absent goes through
 * walk_entry().
 */
static bool map_run(struct mmu_op *op, pte_t *p, enum pte_kind vkind, unsigned int level,
		    unsigned int n, uint64_t off)
{
	const struct pte_format *f = op->f;
	unsigned int shift = level_shift(f, level);
	pte_t pte, inc = leaf_inc(f, level);
	bool wrote = false;

	if (op->dry) {
		if (!p)
			return vkind == PTE_INVALID;
		for (unsigned int i = 0; i < n; i++)
			if (p[i])
				return false; /* something to refuse, replace or enter */
		return true;
	}
	pte = f->leaf(op->pa + (off - op->begin), op->prot, level);
	for (unsigned int i = 0; i < n; i++, pte += inc) {
		if (likely(!p[i])) {
			write_pte(&p[i], pte);
			wrote = true;
		} else {
			walk_whole_entry(op, &p[i], level, off + ((uint64_t)i << shift));
		}
	}
	op->made_valid |= wrote;
	return true;
}

/*
 * The commit of an unmap over the whole entries p[0..n) at level from
 * offset off: leaves cleared inline, tables through walk_entry(). kind()
 * looks only at the bits below leaf_step: an entry with the low bits of
 * the last leaf seen is a leaf too (and never 0, whose kind is
 * PTE_INVALID). Whether they are all absent now.
 */
static bool unmap_run(struct mmu_op *op, pte_t *p, unsigned int level, unsigned int n, uint64_t off)
{
	const struct pte_format *f = op->f;
	unsigned int shift = level_shift(f, level);
	pte_t low_mask = f->leaf_step - 1, leaf_low = ~0ULL; /* no entry has these low bits */
	bool cleared = true, all = op->pend.flush_all;

	for (unsigned int i = 0; i < n; i++) {
		pte_t v = p[i];

		if ((v & low_mask) != leaf_low) {
			if (!v)
				continue;
			if (f->kind(v, level) != PTE_LEAF) {
				/* a table (freed if it empties), or malformed (left alone) */
				walk_whole_entry(op, &p[i], level, off + ((uint64_t)i << shift));
				cleared = cleared && !p[i];
				all = op->pend.flush_all;
				continue;
			}
			leaf_low = v & low_mask;
		}
		write_pte(&p[i], 0);
		if (!all) {
			flush_later(op, off + ((uint64_t)i << shift));
			all = op->pend.flush_all;
		}
	}
	return cleared;
}

/*
 * The fast path for the whole entries [begin, end) of table t at level (t
 * NULL: virtual, all vkind), where they all get the same treatment: 1 (all
 * absent now) or 0 if done, -1 if they must go entry by entry.
 */
static int whole_entries(struct mmu_op *op, pte_t *t, enum pte_kind vkind, unsigned int level,
			 uint64_t begin, uint64_t end)
{
	const struct pte_format *f = op->f;
	unsigned int shift = level_shift(f, level);
	unsigned int n = (end - begin) >> shift;
	pte_t *p = t ? &t[index_of(f, level, begin)] : NULL;

	switch (op->kind) {
	case OP_MAP:
		if (!leaf_allowed(op, level) ||
		    !IS_ALIGNED(op->pa + (begin - op->begin), 1ULL << shift))
			return -1;
		return map_run(op, p, vkind, level, n, begin) ? 0 : -1;
	case OP_UNMAP:
		/* whole entries never split: the dry pass has nothing to check or count */
		return op->dry ? 0 : unmap_run(op, p, level, n, begin);
	case OP_PROTECT:
		break;
	}
	return -1;
}

static bool walk(struct mmu_op *op, pte_t *t, enum pte_kind vkind, unsigned int level,
		 uint64_t begin, uint64_t end);

/*
 * Descends into entry p (kind), creating the table (absent) or splitting
 * the block (leaf). Returns walk()'s answer for the table below.
 */
static bool descend(struct mmu_op *op, pte_t *p, enum pte_kind kind, unsigned int level,
		    uint64_t ebeg, uint64_t b, uint64_t e)
{
	const struct pte_format *f = op->f;
	unsigned int cshift = level_shift(f, level + 1);
	phys_addr_t child, pa;
	pte_t *ct;

	if (kind == PTE_TABLE && p)
		return walk(op, table_at(f->addr(*p)), PTE_TABLE, level + 1, b, e);
	if (op->dry) {
		/* a real or virtual absent entry / leaf: a new table, all absent / all leaves */
		op->need++;
		walk(op, NULL, kind, level + 1, b, e);
		return false;
	}
	if (kind == PTE_LEAF) {
		unsigned int prot = f->prot(*p);

		pa = f->addr(*p);
		child = pool_take(op, false); /* every entry is written below */
		ct = table_at(child);
		if (f->leaf_step)
			fill_leaves(ct, PTE_PER_TABLE, f->leaf(pa, prot, level + 1),
				    leaf_inc(f, level + 1));
		else
			for (unsigned int i = 0; i < PTE_PER_TABLE; i++)
				ct[i] = f->leaf(pa + ((uint64_t)i << cshift), prot, level + 1);
		link_barrier();
		replace_entry(op, p, level, ebeg, *p, PTE_LEAF, f->table(child));
		return walk(op, ct, PTE_TABLE, level + 1, b, e);
	}
	op->made_valid = true;
	pa = op->pa + (b - op->begin);
	if (op->kind == OP_MAP && f->leaf_step && e - b == 1ULL << level_shift(f, level) &&
	    leaf_allowed(op, level + 1) && IS_ALIGNED(pa, 1ULL << cshift)) {
		/* a new table of leaves only: written whole, then linked */
		child = pool_take(op, false);
		fill_leaves(table_at(child), PTE_PER_TABLE, f->leaf(pa, op->prot, level + 1),
			    leaf_inc(f, level + 1));
		link_barrier();
		write_pte(p, f->table(child));
		return false;
	}
	child = pool_take(op, true);
	link_barrier();
	write_pte(p, f->table(child));
	return walk(op, table_at(child), PTE_TABLE, level + 1, b, e);
}

static void walk_entry(struct mmu_op *op, pte_t *p, enum pte_kind kind, unsigned int level,
		       uint64_t ebeg, uint64_t b, uint64_t e)
{
	const struct pte_format *f = op->f;
	uint64_t esize = 1ULL << level_shift(f, level);
	bool full = b == ebeg && e - b == esize;
	bool cleared;

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
		cleared = descend(op, p, kind, level, ebeg, b, e);
		if (!op->dry && f->kind(*p, level) == PTE_TABLE) {
			phys_addr_t child = f->addr(*p);
			unsigned int i0 = index_of(f, level + 1, b);
			unsigned int i1 = cleared ? index_of(f, level + 1, e - 1) + 1 : i0;

			if (table_empty(table_at(child), i0, i1)) {
				write_pte(p, 0);
				table_dead(op, child);
			}
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

/* walk() entry by entry. */
static bool walk_each(struct mmu_op *op, pte_t *t, enum pte_kind vkind, unsigned int level,
		      uint64_t begin, uint64_t end)
{
	unsigned int shift = level_shift(op->f, level);
	uint64_t esize = 1ULL << shift;
	uint64_t off = begin;
	bool cleared = true;

	while (off < end && !op->err) {
		uint64_t ebeg = off & ~(esize - 1);
		uint64_t e = MIN(end, ebeg + esize);
		unsigned int i = (off >> shift) & (PTE_PER_TABLE - 1);
		pte_t *p = t ? &t[i] : NULL;
		enum pte_kind kind = t ? op->f->kind(t[i], level) : vkind;

		walk_entry(op, p, kind, level, ebeg, off, e);
		cleared = cleared && p && !*p;
		off = e;
	}
	return cleared;
}

/*
 * [begin, end) within the table t at level (t NULL: a virtual table whose
 * entries are all of kind vkind): the entries it covers in part one by
 * one, those it covers whole through whole_entries() where it can. In the
 * commit pass, returns whether the entries of [begin, end) are all absent
 * afterwards (false: not known).
 */
static bool walk(struct mmu_op *op, pte_t *t, enum pte_kind vkind, unsigned int level,
		 uint64_t begin, uint64_t end)
{
	uint64_t esize = 1ULL << level_shift(op->f, level);
	uint64_t wb = ALIGN_UP(begin, esize), we = ALIGN_DOWN(end, esize);
	bool cleared = true;
	int r = -1;

	if (!op->f->leaf_step || wb >= we)
		return walk_each(op, t, vkind, level, begin, end);
	if (begin < wb)
		cleared = walk_each(op, t, vkind, level, begin, wb);
	if (!op->err)
		r = whole_entries(op, t, vkind, level, wb, we);
	if (r < 0)
		r = walk_each(op, t, vkind, level, wb, we);
	cleared = cleared && r;
	if (end > we)
		cleared = walk_each(op, t, vkind, level, we, end) && cleared;
	return cleared;
}

/*
 * A map or unmap within one existing last-level table, the common case of
 * a heap's page-sized calls: one descent, then the run checked and done in
 * one go, since it needs no table page, splits nothing and (an unmap)
 * leaves the table in use. False, having changed nothing, if that is not
 * the case or the run holds anything to refuse or replace (the two passes
 * then do it).
 */
static bool within_leaf_table(struct mmu_op *op, uint64_t begin, uint64_t end)
{
	const struct pte_format *f = op->f;
	unsigned int last = f->levels - 1;
	pte_t *t = table_at(op->s->root);
	unsigned int i0, n;

	if (!f->leaf_step || op->kind == OP_PROTECT || (op->flags & MMU_REPLACE) ||
	    (begin ^ (end - 1)) >> level_shift(f, last - 1))
		return false;
	for (unsigned int level = 0; level < last; level++) {
		pte_t e = t[index_of(f, level, begin)];

		if (f->kind(e, level) != PTE_TABLE)
			return false;
		t = table_at(f->addr(e));
	}
	i0 = index_of(f, last, begin);
	n = (end - begin) >> PAGE_SHIFT;
	if (op->kind == OP_MAP) {
		for (unsigned int i = 0; i < n; i++)
			if (t[i0 + i])
				return false;
		map_run(op, &t[i0], PTE_INVALID, last, n, begin);
	} else {
		if (table_empty(t, i0, i0 + n))
			return false; /* it may go: the walk frees it and what it leaves empty */
		unmap_run(op, &t[i0], last, n, begin);
	}
	return true;
}

/* Sets up op for one operation; the arrays are used up to their counts only. */
static void op_init(struct mmu_op *op, struct mmu_space *s, enum mmu_op_kind kind, phys_addr_t pa,
		    unsigned int prot, unsigned int flags)
{
	op->s = s;
	op->f = s->fmt;
	op->kind = kind;
	op->err = 0;
	op->pa = pa;
	op->prot = prot & s->fmt->prot_mask;
	op->flags = flags;
	op->need = 0;
	op->pool = 0;
	op->pool_n = 0;
	op->pend.s = s;
	op->pend.nr_flush = 0;
	op->pend.flush_all = false;
	op->pend.nr_dead = 0;
	op->made_valid = false;
}

/* defer: where the flush and the dead tables go for mmu_finish(); NULL: done here. */
static int run(struct mmu_op *op, uint64_t begin, uint64_t end, struct mmu_deferred *defer)
{
	struct mmu_space *s = op->s;
	int err;

	op->begin = begin;
	op->dry = false;
	if (!within_leaf_table(op, begin, end)) {
		op->dry = true;
		walk(op, table_at(s->root), PTE_TABLE, 0, begin, end);
		if (op->err)
			return op->err;
		err = pool_fill(op, op->need);
		if (err)
			return err;
		op->dry = false;
		walk(op, table_at(s->root), PTE_TABLE, 0, begin, end);
	}
	if (!defer)
		flush_now(op);
	if (op->made_valid && s->tlb && s->tlb->sync)
		s->tlb->sync(s);
	if (defer)
		*defer = op->pend;
	else
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
	if ((prot & MMU_PROT_WRITE) && (prot & MMU_PROT_EXEC) && !(flags & MMU_ALLOW_WX && WX_POSSIBLE))
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
	struct mmu_op op;

	/* unmapping whole top-level entries never splits: this cannot fail */
	op_init(&op, s, OP_UNMAP, 0, 0, 0);
	run(&op, 0, 1ULL << s->fmt->va_bits, NULL);
	table_free(s, s->root);
	s->root = 0;
	s->nr_tables = 0;
}

int mmu_map(struct mmu_space *s, uint64_t va, phys_addr_t pa, uint64_t size, unsigned int prot,
	    unsigned int flags)
{
	struct mmu_op op;
	uint64_t begin;

	if (!range_ok(s, va, size, &begin) || !prot_ok(s, prot, flags) ||
	    !IS_ALIGNED(pa, PAGE_SIZE) || pa + size < pa || (pa + size - 1) >> s->fmt->pa_bits)
		return -EINVAL;
	op_init(&op, s, OP_MAP, pa, prot, flags);
	return run(&op, begin, begin + size, NULL);
}

int mmu_unmap(struct mmu_space *s, uint64_t va, uint64_t size)
{
	struct mmu_op op;
	uint64_t begin;

	if (!range_ok(s, va, size, &begin))
		return -EINVAL;
	op_init(&op, s, OP_UNMAP, 0, 0, 0);
	return run(&op, begin, begin + size, NULL);
}

int mmu_unmap_deferred(struct mmu_space *s, uint64_t va, uint64_t size, struct mmu_deferred *d)
{
	struct mmu_op op;
	uint64_t begin;

	d->s = s;
	d->nr_flush = 0;
	d->flush_all = false;
	d->nr_dead = 0;
	if (!range_ok(s, va, size, &begin))
		return -EINVAL;
	op_init(&op, s, OP_UNMAP, 0, 0, 0);
	return run(&op, begin, begin + size, d);
}

void mmu_finish(struct mmu_deferred *d)
{
	flush_pending(d);
	free_pending_dead(d);
}

int mmu_protect(struct mmu_space *s, uint64_t va, uint64_t size, unsigned int prot,
		unsigned int flags)
{
	struct mmu_op op;
	uint64_t begin;

	if (!range_ok(s, va, size, &begin) || !prot_ok(s, prot, flags))
		return -EINVAL;
	op_init(&op, s, OP_PROTECT, 0, prot, flags);
	return run(&op, begin, begin + size, NULL);
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
