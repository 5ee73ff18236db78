// SPDX-License-Identifier: MIT
/*
 * The fake machine of arena.h: mmap'd RAM at fake physical addresses, a
 * thread-local hart index, and the buddy tests' shadow and expectations.
 */
#include <kernel/hart.h>
#include <mm/buddy.h>
#include <mm/phys.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "arena.h"

#define ARENA_MAX_BANKS 128

struct arena_bank {
	phys_addr_t base;
	uint64_t size;
	unsigned char *mem;
	unsigned char *shadow; /* one byte per frame: 1 while the test owns it */
};

static struct arena_bank banks[ARENA_MAX_BANKS];
static unsigned int nr_banks;
static __thread unsigned int current_hart;

unsigned int this_hart_index(void)
{
	return current_hart;
}

void arena_set_hart(unsigned int index)
{
	current_hart = index;
}

void arena_unmap(void)
{
	for (unsigned int i = 0; i < nr_banks; i++) {
		munmap(banks[i].mem, banks[i].size);
		free(banks[i].shadow);
	}
	nr_banks = 0;
}

void arena_map(const struct memmap *m)
{
	arena_unmap();
	if (m->nr_ram > ARENA_MAX_BANKS) {
		fprintf(stderr, "arena: %u banks, at most %u\n", m->nr_ram, ARENA_MAX_BANKS);
		abort();
	}
	for (unsigned int i = 0; i < m->nr_ram; i++) {
		struct arena_bank *b = &banks[i];

		b->base = m->ram[i].base;
		b->size = m->ram[i].size;
		/* address space only: the pages the test touches are the only ones it pays for */
		b->mem = mmap(NULL, b->size, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		b->shadow = calloc(b->size / PAGE_SIZE + 1, 1);
		if (b->mem == MAP_FAILED || !b->shadow) {
			fprintf(stderr, "arena: cannot map %#llx bytes\n", (unsigned long long)b->size);
			abort();
		}
		nr_banks = i + 1;
	}
}

void arena_machine(struct memmap *m, const struct mem_range *ram, unsigned int n)
{
	memset(m, 0, sizeof(*m));
	for (unsigned int i = 0; i < n; i++)
		m->ram[i] = m->usable[i] = ram[i];
	m->nr_ram = m->nr_usable = n;
	arena_map(m);
}

static struct arena_bank *bank_of(phys_addr_t pa)
{
	for (unsigned int i = 0; i < nr_banks; i++) {
		if (pa - banks[i].base < banks[i].size)
			return &banks[i];
	}
	return NULL;
}

void *phys_to_virt(phys_addr_t pa)
{
	struct arena_bank *b = bank_of(pa);

	if (!b) {
		fprintf(stderr, "phys_to_virt(%#llx): not RAM of this arena\n", (unsigned long long)pa);
		abort();
	}
	return b->mem + (pa - b->base);
}

/* Sets nr shadow bytes from `from` to `to`; false if one was not `from`. */
static bool shadow_flip(phys_addr_t pa, uint64_t nr, unsigned char from, unsigned char to)
{
	struct arena_bank *b = bank_of(pa);
	bool ok = b && pa + nr * PAGE_SIZE <= b->base + b->size;

	for (uint64_t i = 0; ok && i < nr; i++) {
		unsigned char expect = from;
		unsigned char *s = &b->shadow[(pa - b->base) / PAGE_SIZE + i];

		ok = __atomic_compare_exchange_n(s, &expect, to, false, __ATOMIC_ACQ_REL,
						 __ATOMIC_RELAXED);
	}
	return ok;
}

bool arena_shadow_claim(phys_addr_t pa, uint64_t nr_frames)
{
	return shadow_flip(pa, nr_frames, 0, 1);
}

bool arena_shadow_release(phys_addr_t pa, uint64_t nr_frames)
{
	return shadow_flip(pa, nr_frames, 1, 0);
}

static int block_cmp(const void *a, const void *b)
{
	const struct arena_block *x = a, *y = b;

	return x->pa < y->pa ? -1 : x->pa > y->pa;
}

size_t arena_expected_free(const struct memmap *m, unsigned int max_order,
			   struct arena_block **blocks)
{
	size_t n = 0, cap = 1024;
	struct arena_block *v = malloc(cap * sizeof(*v));

	for (unsigned int i = 0; i < m->nr_usable; i++) {
		uint64_t pfn = m->usable[i].base / PAGE_SIZE;
		uint64_t end = (m->usable[i].base + m->usable[i].size) / PAGE_SIZE;

		while (pfn < end) {
			unsigned int k = max_order;

			/* the largest block aligned here that fits, by trying them all */
			while ((pfn & ((1ULL << k) - 1)) || pfn + (1ULL << k) > end)
				k--;
			if (n == cap)
				v = realloc(v, (cap *= 2) * sizeof(*v));
			v[n++] = (struct arena_block){ pfn * PAGE_SIZE, k };
			pfn += 1ULL << k;
		}
	}
	*blocks = v;
	return n;
}

struct collect {
	size_t n, cap;
	struct arena_block *v;
};

static void collect_one(phys_addr_t pa, unsigned int order, void *arg)
{
	struct collect *c = arg;

	if (c->n == c->cap)
		c->v = realloc(c->v, (c->cap = c->cap ? 2 * c->cap : 1024) * sizeof(*c->v));
	c->v[c->n++] = (struct arena_block){ pa, order };
}

size_t arena_free_blocks(struct arena_block **blocks)
{
	struct collect c = { 0, 0, NULL };

	buddy_walk_free(collect_one, &c);
	if (c.n)
		qsort(c.v, c.n, sizeof(*c.v), block_cmp);
	*blocks = c.v;
	return c.n;
}

bool arena_blocks_equal(const struct arena_block *a, size_t na, const struct arena_block *b,
			size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++) {
		if (a[i].pa != b[i].pa || a[i].order != b[i].order)
			return false;
	}
	return true;
}
