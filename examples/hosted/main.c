// SPDX-License-Identifier: MIT
/*
 * mm/ in a Linux process, through its port alone (mm_port.h, port.c): the
 * boot order of a kernel, step by step, each step checked.
 *
 *   0. the machine: 64 MiB of "RAM" (a memfd mapped at example_arena)
 *   1. a device tree that describes it, as firmware would pass one
 *   2. the boot memory map, the hart table, the NUMA map (one node)
 *   3. the boot allocator, and the early heap it makes room for
 *   4. the buddy allocator takes every frame over
 *   5. the page mapper: an Sv39 table in arena frames, walked by hand
 *   6. the switch to the strategy's heaps, large allocations through vmap
 *   7. kmalloc/kfree/ksize on two threads playing two harts
 *
 * Exit status 0 only if every check passed: tests/host/example.sh runs it.
 */
#define _GNU_SOURCE /* memfd_create */
#include <libfdt.h>
#include <mm/bootmem.h>
#include <mm/buddy.h>
#include <mm/harts.h>
#include <mm/heap.h>
#include <mm/heap_hart.h>
#include <mm/kmalloc.h>
#include <mm/memmap.h>
#include <mm/mmu.h>
#include <mm/numa.h>
#include <mm/phys.h>
#include <mm/port.h>
#include <mm/vmap.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#define RAM_BASE      EXAMPLE_RAM_BASE
#define RAM_SIZE      EXAMPLE_RAM_SIZE
#define FIRMWARE_SIZE (512ULL << 10)	 /* a no-map region at the bottom, as OpenSBI's */
#define KERNEL_BASE   (RAM_BASE + SZ_2M) /* where a kernel image would be: reserved too */
#define KERNEL_SIZE   (1ULL << 20)
#define HART0_ID      0 /* hart IDs as the DT says them; threads play their dense indexes */
#define HART1_ID      1

/* Virtual addresses of the page tables' space (Sv39, top half). */
#define WINDOW_VA   0xffffffc000000000ULL /* the heap's large allocations */
#define WINDOW_SIZE (256ULL << 20)
#define DEMO_VA	    0xffffffe000000000ULL /* one 2 MiB mapping made by hand */

static unsigned int checks, failures;

static bool check(bool ok, const char *what, int line)
{
	__atomic_fetch_add(&checks, 1, __ATOMIC_RELAXED);
	if (!ok) {
		__atomic_fetch_add(&failures, 1, __ATOMIC_RELAXED);
		fflush(stdout);
		fprintf(stderr, "FAIL (main.c:%d): %s\n", line, what);
	}
	return ok;
}
#define CHECK(cond) check((cond), #cond, __LINE__)

/* ---- 0. the machine ------------------------------------------------------------- */

static int ram_fd; /* the memfd behind RAM: large allocations map its pages a second time */

/*
 * Aligned to the buddy's largest block, so that a block's virtual address
 * is as aligned as its physical one (kmalloc(4096) is 4 KiB aligned).
 */
static bool map_ram(void)
{
	const uint64_t align = PAGE_SIZE << BUDDY_MAX_ORDER;
	char *r;

	ram_fd = memfd_create("example-ram", MFD_CLOEXEC);
	if (ram_fd < 0 || ftruncate(ram_fd, RAM_SIZE) < 0)
		return false;
	r = mmap(NULL, RAM_SIZE + align, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1,
		 0);
	if (r == MAP_FAILED)
		return false;
	example_arena = mmap((void *)ALIGN_UP((uintptr_t)r, align), RAM_SIZE,
			     PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, ram_fd, 0);
	return example_arena != MAP_FAILED;
}

/* ---- 1. the device tree ----------------------------------------------------------- */

/*
 * Built with libfdt's sequential-write API; as a .dts it would read:
 *
 *   / { #address-cells = <2>; #size-cells = <2>;
 *       cpus { #address-cells = <1>; #size-cells = <0>;
 *              cpu@0 { device_type = "cpu"; reg = <0>; };
 *              cpu@1 { device_type = "cpu"; reg = <1>; }; };
 *       memory@80000000 { device_type = "memory"; reg = <0x0 0x80000000 0x0 0x4000000>; };
 *       reserved-memory { #address-cells = <2>; #size-cells = <2>; ranges;
 *              firmware@80000000 { reg = <0x0 0x80000000 0x0 0x80000>; no-map; }; }; };
 */
static uint64_t fdt_blob[512]; /* 4 KiB, 8-byte aligned as libfdt wants */

static void *build_fdt(void)
{
	const fdt64_t ram[2] = {cpu_to_fdt64(RAM_BASE), cpu_to_fdt64(RAM_SIZE)};
	const fdt64_t fw[2] = {cpu_to_fdt64(RAM_BASE), cpu_to_fdt64(FIRMWARE_SIZE)};
	void *fdt = fdt_blob;
	/* each call runs only if all before it succeeded (GNU ?:): the first error is kept */
	int err = fdt_create(fdt, sizeof(fdt_blob));

	err = err ?: fdt_finish_reservemap(fdt);
	err = err ?: fdt_begin_node(fdt, "");
	err = err ?: fdt_property_u32(fdt, "#address-cells", 2);
	err = err ?: fdt_property_u32(fdt, "#size-cells", 2);
	err = err ?: fdt_begin_node(fdt, "cpus");
	err = err ?: fdt_property_u32(fdt, "#address-cells", 1);
	err = err ?: fdt_property_u32(fdt, "#size-cells", 0);
	err = err ?: fdt_begin_node(fdt, "cpu@0");
	err = err ?: fdt_property_string(fdt, "device_type", "cpu");
	err = err ?: fdt_property_u32(fdt, "reg", HART0_ID);
	err = err ?: fdt_end_node(fdt);
	err = err ?: fdt_begin_node(fdt, "cpu@1");
	err = err ?: fdt_property_string(fdt, "device_type", "cpu");
	err = err ?: fdt_property_u32(fdt, "reg", HART1_ID);
	err = err ?: fdt_end_node(fdt);
	err = err ?: fdt_end_node(fdt); /* cpus */
	err = err ?: fdt_begin_node(fdt, "memory@80000000");
	err = err ?: fdt_property_string(fdt, "device_type", "memory");
	err = err ?: fdt_property(fdt, "reg", ram, sizeof(ram));
	err = err ?: fdt_end_node(fdt);
	err = err ?: fdt_begin_node(fdt, "reserved-memory");
	err = err ?: fdt_property_u32(fdt, "#address-cells", 2);
	err = err ?: fdt_property_u32(fdt, "#size-cells", 2);
	err = err ?: fdt_property(fdt, "ranges", "", 0);
	err = err ?: fdt_begin_node(fdt, "firmware@80000000");
	err = err ?: fdt_property(fdt, "reg", fw, sizeof(fw));
	err = err ?: fdt_property(fdt, "no-map", "", 0);
	err = err ?: fdt_end_node(fdt);
	err = err ?: fdt_end_node(fdt); /* reserved-memory */
	err = err ?: fdt_end_node(fdt); /* / */
	err = err ?: fdt_finish(fdt);
	if (!CHECK(err == 0))
		fprintf(stderr, "libfdt: %s\n", fdt_strerror(err));
	return err ? NULL : fdt;
}

/* ---- 5. the page mapper --------------------------------------------------------- */

/*
 * The tables are plain memory in arena frames: follow va from the root
 * with the format's decoders, as the hardware walker would. 0: not mapped.
 */
static phys_addr_t walk(const struct mmu_space *s, uint64_t va, uint64_t *leaf_size)
{
	const struct pte_format *f = s->fmt;
	phys_addr_t table = s->root;

	for (unsigned int level = 0; level < f->levels; level++) {
		unsigned int shift = PAGE_SHIFT + PTE_INDEX_BITS * (f->levels - 1 - level);
		const pte_t *t = phys_to_virt(table);
		pte_t e = t[(va >> shift) % PTE_PER_TABLE];

		if (f->kind(e, level) == PTE_LEAF) {
			*leaf_size = 1ULL << shift;
			return f->addr(e) + (va & (*leaf_size - 1));
		}
		if (f->kind(e, level) != PTE_TABLE)
			return 0;
		table = f->addr(e);
	}
	return 0;
}

/* ---- 6. large allocations: vmap over the tables, the host's mmap as the MMU -------- */

static struct mmu_space space;
static struct vmap heap_vmap;
static struct heap_large_ops large_ops;
static char *window; /* the host address of WINDOW_VA */
static pthread_mutex_t window_lock = PTHREAD_MUTEX_INITIALIZER;

static char *host_of(uint64_t va)
{
	return window + (va - WINDOW_VA);
}

static uint64_t va_of(const void *p)
{
	return WINDOW_VA + ((uintptr_t)p - (uintptr_t)window);
}

static void window_forget(void *p, size_t nr)
{
	mmap(p, nr * PAGE_SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED,
	     -1, 0);
}

/*
 * vmap picks the VA and writes the page-table entries; to make the CPU
 * see what the table says, each frame's page of the memfd is mapped at
 * the host address of its VA. The lock keeps a range's host mappings in
 * step with vmap's bookkeeping when two harts map and unmap at once.
 */
static int large_map(const phys_addr_t *frames, size_t nr, size_t align, void **p)
{
	uint64_t va;
	int err;

	pthread_mutex_lock(&window_lock);
	err = vmap_map(&heap_vmap, frames, nr, align, &va);
	for (size_t i = 0; !err && i < nr; i++) {
		if (mmap(host_of(va) + i * PAGE_SIZE, PAGE_SIZE, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_FIXED, ram_fd,
			 (off_t)(frames[i] - RAM_BASE)) == MAP_FAILED) {
			window_forget(host_of(va), i);
			vmap_unmap(&heap_vmap, va, nr, NULL, NULL); /* the frames stay the heap's */
			err = -ENOMEM;
		}
	}
	if (!err)
		*p = host_of(va);
	pthread_mutex_unlock(&window_lock);
	return err;
}

static int large_lookup(const void *p, phys_addr_t *first)
{
	return vmap_lookup(&heap_vmap, va_of(p), first, NULL);
}

static int large_unmap(void *p, size_t nr, void (*give)(phys_addr_t pa, void *arg), void *arg)
{
	long n;

	pthread_mutex_lock(&window_lock);
	/* give() returns the frames to the buddy; p is dead, its stale host mapping goes next */
	n = vmap_unmap(&heap_vmap, va_of(p), nr, give, arg);
	if (n > 0)
		window_forget(p, (size_t)n);
	pthread_mutex_unlock(&window_lock);
	return n < 0 ? (int)n : 0;
}

/* ---- 7. the heaps ----------------------------------------------------------------- */

static const size_t sizes[] = {0, 1, 8, 24, 100, 512, 4096, 5000, 8136, 40000, 1 << 20};
#define NR_SIZES (sizeof(sizes) / sizeof(sizes[0]))
#define NR_CROSS 64 /* objects each hart hands the other to free */

static void *from_hart0[NR_CROSS], *from_hart1[NR_CROSS];

/* A pattern derived from seed, so that a block overwritten by another shows. */
static void fill(void *p, size_t n, unsigned int seed)
{
	for (size_t i = 0; i < n; i++)
		((unsigned char *)p)[i] = (unsigned char)(seed * 131 + i * 7);
}

static bool holds(const void *p, size_t n, unsigned int seed)
{
	for (size_t i = 0; i < n; i++)
		if (((const unsigned char *)p)[i] != (unsigned char)(seed * 131 + i * 7))
			return false;
	return true;
}

/* kmalloc's promises (include/mm/kmalloc.h) for one size, and the block's bytes. */
static void *alloc_checked(size_t size, unsigned int seed)
{
	void *p = kmalloc(size);
	size_t align = (size & (size - 1)) == 0 ? size : size >= 16 ? 16 : 8;

	if (!CHECK(p != NULL))
		return NULL;
	CHECK(ksize(p) >= size);
	CHECK(((uintptr_t)p & (MAX(align, (size_t)8) - 1)) == 0);
	fill(p, size, seed);
	return p;
}

static size_t cross_size(unsigned int i)
{
	return sizes[1 + i % (NR_SIZES - 2)]; /* 1 .. 40000: slab classes and the large path */
}

/* The thread that plays the second hart: frees hart 0's blocks, leaves hart 0 some of its own. */
static void *hart1_main(void *harts)
{
	example_hart = (unsigned int)hart_index(harts, HART1_ID);
	for (unsigned int i = 0; i < NR_CROSS; i++) {
		CHECK(from_hart0[i] && holds(from_hart0[i], cross_size(i), i));
		kfree(from_hart0[i]); /* a cross-hart free: back to hart 0's heap */
	}
	for (unsigned int i = 0; i < NR_CROSS; i++)
		from_hart1[i] = alloc_checked(cross_size(i), 1000 + i);
	return NULL;
}

/* ---- the boot ---------------------------------------------------------------------- */

static struct memmap map;
static struct hart_table harts;
static struct numa_map numa;

static bool boot(void)
{
	const struct resv_region kernel = {
	    .base = KERNEL_BASE, .size = KERNEL_SIZE, .kind = RESV_KERNEL, .name = "kernel"};
	struct dt_error err;
	struct buddy_stats bs;
	struct heap_early_stats es;
	phys_addr_t boot_pa, block;
	uint64_t leaf = 0, early_before;
	void *fdt, *early, *r;

	printf("== 0. RAM: %llu MiB at physical %#llx, host %p\n",
	       (unsigned long long)(RAM_SIZE >> 20), (unsigned long long)RAM_BASE, example_arena);

	printf("== 1. device tree\n");
	if (!(fdt = build_fdt()) || !CHECK(dt_check_blob(fdt, sizeof(fdt_blob), &err) == 0))
		return false;

	printf("== 2. memory map, harts, NUMA (the kernel image passed as an extra reservation)\n");
	if (!CHECK(memmap_from_fdt(&map, fdt, sizeof(fdt_blob), &kernel, 1, 0, &err) == 0)) {
		fprintf(stderr, "memmap: %s\n", err.msg);
		return false;
	}
	memmap_print(&map);
	CHECK(map.nr_ram == 1 && memmap_total_ram(&map) == RAM_SIZE);
	CHECK(memmap_total_usable(&map) == RAM_SIZE - FIRMWARE_SIZE - KERNEL_SIZE);
	if (!CHECK(harts_from_fdt(&harts, fdt, HART0_ID, &err) == 0 && harts.nr == 2))
		return false;
	harts_print(&harts);
	CHECK(numa_from_fdt(&numa, fdt, &harts, &map, &err) == 0);
	numa_set_map(&numa); /* before buddy_init(): banks end where nodes do */
	CHECK(numa_nr_nodes() == 1);

	printf("== 3. boot allocator and early heap\n");
	if (!CHECK(bootmem_alloc(&map, 3 * PAGE_SIZE, PAGE_SIZE, BOOTMEM_NO_LIMIT, &boot_pa) == 0))
		return false;
	memset(phys_to_virt(boot_pa), 0xab, 3 * PAGE_SIZE); /* it is RAM: usable at once */
	CHECK(bootmem_allocated(&map) == 3 * PAGE_SIZE);
	if (!CHECK(heap_early_init_bootmem(&map, HEAP_EARLY_SIZE) == 0))
		return false;
	early = kmalloc(200); /* kmalloc() works from here on; freed after the switch */
	CHECK(early != NULL);
	printf("boot allocation at %#llx; early heap %llu KiB, a block at %p\n",
	       (unsigned long long)boot_pa, (unsigned long long)(HEAP_EARLY_SIZE >> 10), early);

	printf("== 4. buddy allocator\n");
	if (!CHECK(buddy_init(&map) == 0))
		return false;
	buddy_stats(&bs);
	printf("buddy: %llu frames: %llu free, %llu early, %llu reserved\n",
	       (unsigned long long)bs.total, (unsigned long long)bs.free,
	       (unsigned long long)bs.early, (unsigned long long)bs.reserved);
	CHECK(bs.total == RAM_SIZE / PAGE_SIZE);
	CHECK(bs.reserved >= (FIRMWARE_SIZE + KERNEL_SIZE) / PAGE_SIZE);
	early_before = bs.early;
	/* a boot allocation belongs to the buddy now, and may be given back in whole frames */
	CHECK(frame_tag(boot_pa) == FRAME_EARLY && buddy_free_range(boot_pa, 3) == 0);
	buddy_stats(&bs);
	CHECK(bs.early == early_before - 3);
	CHECK(buddy_alloc(9, &block) == 0 && IS_ALIGNED(block, SZ_2M)); /* 512 frames */

	printf("== 5. page mapper (Sv39 tables in arena frames)\n");
	if (!CHECK(mmu_space_init(&space, &pte_format_sv39, NULL, 0) == 0))
		return false;
	CHECK(mmu_map(&space, DEMO_VA, block, SZ_2M, MMU_PROT_READ | MMU_PROT_WRITE, 0) == 0);
	CHECK(walk(&space, DEMO_VA + 0x1234, &leaf) == block + 0x1234 && leaf == SZ_2M);
	printf("%#llx -> %#llx by a %llu KiB leaf; %llu table pages\n", (unsigned long long)DEMO_VA,
	       (unsigned long long)block, (unsigned long long)(leaf >> 10),
	       (unsigned long long)space.nr_tables);
	CHECK(mmu_unmap(&space, DEMO_VA, SZ_2M) == 0 && walk(&space, DEMO_VA, &leaf) == 0);
	CHECK(buddy_free(block, 9) == 0);

	printf("== 6. switch to the heaps\n");
	r = mmap(NULL, 2 * WINDOW_SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1,
		 0);
	if (!CHECK(r != MAP_FAILED))
		return false;
	/* as aligned as WINDOW_VA, so that a block's host address is as aligned as its VA */
	window = (char *)ALIGN_UP((uintptr_t)r, WINDOW_SIZE);
	if (!CHECK(vmap_init(&heap_vmap, &space, WINDOW_VA, WINDOW_SIZE) == 0))
		return false;
	large_ops = (struct heap_large_ops){.base = (uintptr_t)window,
					    .size = WINDOW_SIZE,
					    .map = large_map,
					    .lookup = large_lookup,
					    .unmap = large_unmap};
	if (!CHECK(switch_to_multiple_heaps(harts.nr, &large_ops) == 0))
		return false;
	printf("heap: strategy %s, hardening %s\n", heap_strategy(), heap_hardening());
	heap_early_stats(&es);
	CHECK(es.blocks == 1);
	kfree(early);		 /* a block of the early heap, freed after the switch */
	heap_quarantine_flush(); /* the debug tier holds freed blocks back; nothing otherwise */
	heap_early_stats(&es);
	CHECK(es.blocks == 0);
	return failures == 0;
}

static void heaps(void)
{
	struct heap_usage u;
	struct heap_hart_stats hs;
	pthread_t hart1;
	uint64_t remote = 0;
	void *p[NR_SIZES];

	printf("== 7. kmalloc on hart 0, then on two harts at once\n");
	for (unsigned int i = 0; i < NR_SIZES; i++) {
		p[i] = alloc_checked(sizes[i], i);
		printf("kmalloc(%zu) = %p, ksize %zu\n", sizes[i], p[i], p[i] ? ksize(p[i]) : 0);
	}
	/* the largest is mapped through vmap: the table names the frames that hold its bytes */
	phys_addr_t pa = 0;
	uint64_t va = va_of(p[NR_SIZES - 1]), leaf = 0;

	CHECK(vmap_contains(&heap_vmap, va) && mmu_translate(&space, va, &pa, NULL, &leaf) == 0);
	CHECK(leaf == PAGE_SIZE && walk(&space, va, &leaf) == pa);
	CHECK(pa && memcmp(phys_to_virt(pa), p[NR_SIZES - 1], PAGE_SIZE) == 0);
	for (unsigned int i = 0; i < NR_SIZES; i++) {
		CHECK(p[i] && holds(p[i], sizes[i], i));
		kfree(p[i]);
	}

	for (unsigned int i = 0; i < NR_CROSS; i++)
		from_hart0[i] = alloc_checked(cross_size(i), i);
	if (!CHECK(pthread_create(&hart1, NULL, hart1_main, &harts) == 0))
		return;
	for (unsigned int round = 0; round < 2000; round++) /* hart 0 works meanwhile */
		kfree(alloc_checked(cross_size(round), round));
	pthread_join(hart1, NULL);
	for (unsigned int i = 0; i < NR_CROSS; i++) {
		CHECK(from_hart1[i] && holds(from_hart1[i], cross_size(i), 1000 + i));
		kfree(from_hart1[i]); /* to hart 1's heap, whose thread is gone */
	}

	/*
	 * Frees from another hart wait in the owner's queue until the owner
	 * next looks; each hart takes its own (a kernel's idle loop calls
	 * heap_idle()). The thread is gone, so this one may play hart 1.
	 */
	heap_quarantine_flush(); /* first: what it frees may be queued for other harts */
	heap_idle();
	example_hart = 1;
	heap_idle();
	example_hart = 0;
	for (unsigned int h = 0; h < harts.nr && heap_hart_stats(h, &hs) == 0; h++)
		for (unsigned int c = 0; c < HEAP_NR_CLASSES; c++)
			remote += hs.cls[c].remote_frees;
	heap_usage(&u);
	printf("heap: %u per-hart heaps, %llu blocks live, %llu frames held; %llu cross-hart "
	       "frees taken by their owners\n",
	       u.per_hart_heaps, (unsigned long long)u.blocks, (unsigned long long)u.frames,
	       (unsigned long long)remote);
	CHECK(u.blocks == 0 && u.bytes == 0);
	CHECK(u.per_hart_heaps == 0 || remote > 0);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (CHECK(map_ram()) && boot()) {
		heaps();
		/* the frame metadata agrees with the free lists and the counters */
		buddy_drain_caches();
		CHECK(buddy_check(NULL) == 0);
	}
	printf("hosted example: %u checks, %u failed\n", checks, failures);
	return failures ? 1 : 0;
}
