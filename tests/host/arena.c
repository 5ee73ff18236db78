// SPDX-License-Identifier: MIT
/*
 * The fake machine of arena.h: mmap'd RAM at fake physical addresses, a
 * thread-local hart index, and the buddy tests' shadow and expectations.
 */
#define _GNU_SOURCE /* memfd_create */
#include <mm/buddy.h>
#include <mm/harts.h>
#include <mm/phys.h>
#include <mm/port.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "arena.h"

#define ARENA_MAX_BANKS 128

struct arena_bank {
	phys_addr_t base;
	uint64_t size;
	unsigned char *mem;
	unsigned char *shadow; /* one byte per frame: 1 while the test owns it */
	int fd;		       /* the memfd behind mem, or -1 */
};

static struct arena_bank banks[ARENA_MAX_BANKS];
static unsigned int nr_banks;
static bool use_memfd;
static __thread unsigned int current_hart;

unsigned int this_hart_index(void)
{
	return current_hart;
}

static void *mm_slots[MAX_HARTS + 1]; /* the last for a thread beyond MAX_HARTS */

void **hart_mm_slot(unsigned int index)
{
	return &mm_slots[MIN(index, (unsigned int)MAX_HARTS)];
}

void **this_hart_mm_slot(void)
{
	return hart_mm_slot(current_hart);
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
		if (banks[i].fd >= 0)
			close(banks[i].fd);
	}
	nr_banks = 0;
}

void arena_use_memfd(bool on)
{
	use_memfd = on;
}

/*
 * A bank's memory: anonymous and private, or from a sparse memfd and
 * shared. Placed so that an address keeps the alignment of its physical
 * address up to ARENA_ALIGN, as the kernel's direct map does.
 */
#define ARENA_ALIGN (2ULL << 20)

static unsigned char *bank_memory(struct arena_bank *b)
{
	size_t len = b->size + 2 * ARENA_ALIGN;
	unsigned char *r, *mem;
	int flags = MAP_FIXED | MAP_NORESERVE;

	b->fd = -1;
	r = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (r == MAP_FAILED)
		return MAP_FAILED;
	mem = (unsigned char *)ALIGN_UP((uintptr_t)r, ARENA_ALIGN) + (b->base & (ARENA_ALIGN - 1));
	if (mem > r)
		munmap(r, mem - r);
	if (r + len > mem + b->size)
		munmap(mem + b->size, r + len - (mem + b->size));
	if (use_memfd) {
		b->fd = memfd_create("arena", MFD_CLOEXEC);
		if (b->fd < 0 || ftruncate(b->fd, (off_t)b->size) < 0)
			return MAP_FAILED;
		flags |= MAP_SHARED;
	} else {
		flags |= MAP_PRIVATE | MAP_ANONYMOUS;
	}
	return mmap(mem, b->size, PROT_READ | PROT_WRITE, flags, b->fd, 0);
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
		b->mem = bank_memory(b);
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

void arena_reserve(struct memmap *m, const struct mem_range *space, unsigned int n)
{
	arena_machine(m, space, n);
	memset(m, 0, sizeof(*m));
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

phys_addr_t virt_to_phys(const void *p)
{
	for (unsigned int i = 0; i < nr_banks; i++) {
		uintptr_t off = (uintptr_t)p - (uintptr_t)banks[i].mem;

		if (off < banks[i].size)
			return banks[i].base + off;
	}
	/* as the kernel's arithmetic would: an address that is no RAM (page aligned, far from any bank) */
	return ARENA_NOT_RAM;
}

bool arena_alias(void *addr, phys_addr_t pa)
{
	struct arena_bank *b = bank_of(pa);

	if (!b || b->fd < 0 || (pa & (PAGE_SIZE - 1)) || ((uintptr_t)addr & (PAGE_SIZE - 1)))
		return false;
	return mmap(addr, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, b->fd,
		    (off_t)(pa - b->base)) == addr;
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
