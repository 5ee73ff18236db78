// SPDX-License-Identifier: MIT
/*
 * Physical memory for mm/ in a Linux process, and the boot.
 *
 * RAM is a reservation of address space (PROT_NONE, MAP_NORESERVE, up to
 * 1 TiB): fake physical address ARENA_PA + x is arena + x, so
 * phys_to_virt() and virt_to_phys() are an addition. Only what the buddy
 * has been given is readable and writable (mprotect), so under strict
 * overcommit the OS charges what is in use, not the reservation; it is
 * private memory, so a forked child gets a copy, not a share.
 *
 * The boot is the kernel's: a device tree with one memory node of
 * ARENA_FIRST_SIZE, memmap_from_fdt(), the early heap from the boot
 * allocator, buddy_init(), then the switch. A program that allocates
 * 1 KiB pays for 32 MiB of RAM's metadata (128 KiB, most never touched),
 * not for the gigabytes it might use:
 *
 * - growth: when the buddy has no block for a request, its grow hook
 *   hot-adds the next piece of the reservation (buddy_add_memory(), whose
 *   metadata lives at the piece's start): at least what the request needs,
 *   else as much as the arena already has (so the number of banks grows
 *   with the log of the size), at most ARENA_GROW_MAX at a time;
 * - give-back: the buddy reports free 4 MiB blocks (its largest) beyond the
 *   REPORT_KEEP most recent ones, with the block off its lists meanwhile,
 *   and we discard their contents with madvise(MADV_DONTNEED): the OS takes
 *   the pages back, and the frames read as zeros when they are used again.
 *   Smaller free pieces stay resident until they merge into such a block.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <kernel/errno.h>
#include <libfdt.h>
#include <mm/bootmem.h>
#include <mm/buddy.h>
#include <mm/kmalloc.h>
#include <mm/memmap.h>
#include <mm/phys.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "memcore.h"

#define ARENA_PA	  0x80000000ULL /* RAM starts here, as on QEMU virt */
#define ARENA_RESERVE_MAX (1ULL << 40)	/* address space asked for, halved until the OS agrees */
#define ARENA_RESERVE_MIN (64ULL << 20)
#define ARENA_FIRST_SIZE  (32ULL << 20) /* the boot's RAM */
#define ARENA_GROW_MAX	  (4ULL << 30)	/* the most one hot-add adds beyond a request's need */
#define ARENA_GRANULE	  (PAGE_SIZE << BUDDY_MAX_ORDER) /* banks in whole largest blocks */
#define EARLY_HEAP_SIZE	  (64ULL << 10)
#define REPORT_KEEP	  ((32ULL << 20) / PAGE_SIZE) /* free frames in largest blocks kept resident */

static char *arena;		/* the host address of ARENA_PA */
static uint64_t arena_reserved; /* bytes of address space */
static uint64_t arena_ram;	/* bytes given to the buddy; grows under grow_lock */
static uint64_t nr_grows, reported_bytes;
static spinlock_t grow_lock = SPINLOCK_INIT;
static struct memmap boot_map;

void *phys_to_virt(phys_addr_t pa)
{
	return arena + (pa - ARENA_PA);
}

/* Exact for any pointer: one outside the arena gives an address with no bank (not RAM). */
phys_addr_t virt_to_phys(const void *p)
{
	return ARENA_PA + (uint64_t)((const char *)p - arena);
}

static __noreturn void boot_failed(const char *what, long err)
{
	shim_print("memcore: cannot start the heap: %s (error %ld)\n", what, err);
	abort();
}

/*
 * The address space RLIMIT_AS (ulimit -v) leaves this process, UINT64_MAX
 * without one: the limit less what is mapped now (/proc/self/statm's
 * first number; read(), as stdio may allocate).
 */
static uint64_t as_left(void)
{
	struct rlimit r;
	char buf[64];
	uint64_t mapped = 0;
	ssize_t n;
	int fd;

	if (getrlimit(RLIMIT_AS, &r) || r.rlim_cur == RLIM_INFINITY)
		return UINT64_MAX;
	fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
	n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
	if (fd >= 0)
		close(fd);
	for (ssize_t i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; i++)
		mapped = mapped * 10 + (uint64_t)(buf[i] - '0');
	mapped *= (uint64_t)sysconf(_SC_PAGESIZE);
	return r.rlim_cur > mapped ? r.rlim_cur - mapped : 0;
}

char *shim_reserve(uint64_t max, uint64_t min, uint64_t align, uint64_t share, uint64_t *size)
{
	uint64_t left = as_left();

	/* under a limit: the largest power of two that fits the share with its slack */
	while (left != UINT64_MAX && max > min && max + (align ? align : max) > left / share)
		max /= 2;
	for (*size = max; *size >= min; *size /= 2) {
		uint64_t a = align ? align : *size;
		/* over-reserved by the alignment, then trimmed to an aligned start */
		char *r = mmap(NULL, *size + a, PROT_NONE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		char *p;

		if (r == MAP_FAILED)
			continue;
		p = (char *)ALIGN_UP((uintptr_t)r, (uintptr_t)a);
		if (p > r)
			munmap(r, p - r);
		munmap(p + *size, r + a - p);
		return p;
	}
	return NULL;
}

/* Makes [from, from + size) of the arena usable memory; false if the OS refuses. */
static bool arena_commit(uint64_t from, uint64_t size)
{
	return mprotect(arena + from, size, PROT_READ | PROT_WRITE) == 0;
}

/* ---- growth ------------------------------------------------------------------ */

/* Bytes of arena that hold nr_frames free frames after their bank's metadata, in whole granules. */
static uint64_t bytes_for(uint64_t nr_frames)
{
	uint64_t bytes = nr_frames * PAGE_SIZE;

	/* the metadata: 16 bytes per frame of the bank, a granule's worth of alignment slack */
	bytes += bytes / (PAGE_SIZE / FRAME_META_BYTES) + 2 * ARENA_GRANULE;
	return ALIGN_UP(bytes, ARENA_GRANULE);
}

/*
 * The buddy's grow hook: hot-adds the next piece of the arena. Called with
 * no lock of the buddy's held (perhaps a hart cache's); errno is the
 * program's, so it is kept.
 */
static bool arena_grow(uint64_t nr_frames)
{
	int saved = errno;
	uint64_t need = bytes_for(nr_frames), size;
	bool added = false;

	spin_lock(&grow_lock);
	size = MAX(need, MIN(arena_ram, ARENA_GROW_MAX));
	size = MIN(size, arena_reserved - arena_ram);
	while (size >= need) {
		if (arena_commit(arena_ram, size)) {
			if (buddy_add_memory(ARENA_PA + arena_ram, size) == 0) {
				__atomic_store_n(&arena_ram, arena_ram + size, __ATOMIC_RELEASE);
				nr_grows++;
				added = true;
			} else {
				mprotect(arena + arena_ram, size, PROT_NONE);
			}
			break;
		}
		/* the OS would not commit that much (strict overcommit): less, down to the need */
		size = size / 2 >= need ? ALIGN_UP(size / 2, ARENA_GRANULE) : 0;
	}
	spin_unlock(&grow_lock);
	errno = saved;
	return added;
}

/* The buddy's reporter: a free 4 MiB block nobody can take meanwhile; its pages go back to the OS.
 */
static void arena_discard(phys_addr_t pa, uint64_t size)
{
	int saved = errno;

	if (madvise(phys_to_virt(pa), size, MADV_DONTNEED) == 0)
		__atomic_fetch_add(&reported_bytes, size, __ATOMIC_RELAXED);
	errno = saved;
}

void shim_arena_stats(struct shim_arena_stats *s)
{
	s->reserved = arena_reserved;
	s->ram = __atomic_load_n(&arena_ram, __ATOMIC_ACQUIRE);
	s->grows = __atomic_load_n(&nr_grows, __ATOMIC_RELAXED);
	s->reported = __atomic_load_n(&reported_bytes, __ATOMIC_RELAXED);
}

/* ---- the boot ---------------------------------------------------------------- */

/* The device tree the kernel would get from firmware: one memory node. */
static void *boot_fdt(void)
{
	static uint64_t blob[128]; /* 1 KiB, 8-byte aligned */
	fdt64_t reg[2] = {cpu_to_fdt64(ARENA_PA), cpu_to_fdt64(ARENA_FIRST_SIZE)};
	void *fdt = blob;
	int err = fdt_create(fdt, sizeof(blob));

	err = err ?: fdt_finish_reservemap(fdt);
	err = err ?: fdt_begin_node(fdt, "");
	err = err ?: fdt_property_u32(fdt, "#address-cells", 2);
	err = err ?: fdt_property_u32(fdt, "#size-cells", 2);
	err = err ?: fdt_property_string(fdt, "model", "libmemcore arena");
	err = err ?: fdt_begin_node(fdt, "memory@80000000");
	err = err ?: fdt_property_string(fdt, "device_type", "memory");
	err = err ?: fdt_property(fdt, "reg", reg, sizeof(reg));
	err = err ?: fdt_end_node(fdt);
	err = err ?: fdt_end_node(fdt);
	err = err ?: fdt_finish(fdt);
	if (err)
		boot_failed("building the device tree", err);
	return fdt;
}

void shim_arena_boot(void)
{
	struct dt_error derr;
	const void *fdt;
	int err;

	/* aligned to the largest block, as ARENA_PA is: a block's address keeps its alignment */
	arena =
	    shim_reserve(ARENA_RESERVE_MAX, ARENA_RESERVE_MIN, ARENA_GRANULE, 2, &arena_reserved);
	if (!arena)
		boot_failed("no address space for the arena", errno);
	if (!arena_commit(0, ARENA_FIRST_SIZE))
		boot_failed("the OS gives no memory", errno);
	arena_ram = ARENA_FIRST_SIZE;
	fdt = boot_fdt();
	err = memmap_from_fdt(&boot_map, fdt, fdt_totalsize(fdt), NULL, 0, 0, &derr);
	if (err < 0) {
		shim_print("memcore: boot memory map: %s\n", derr.msg);
		boot_failed("the boot memory map", err);
	}
	err = heap_early_init_bootmem(&boot_map, EARLY_HEAP_SIZE);
	if (err < 0)
		boot_failed("the early heap", err);
	err = buddy_init(&boot_map);
	if (err < 0)
		boot_failed("the buddy allocator", err);
	buddy_set_grow_hook(arena_grow);
	buddy_set_reporter(arena_discard, REPORT_KEEP);
	heap_set_misuse_handler(shim_misuse);
	err = switch_to_multiple_heaps(SHIM_HARTS, shim_window_init());
	if (err < 0)
		boot_failed("the switch to the heap strategy", err);
	shim_guard_init();
}
