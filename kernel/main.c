// SPDX-License-Identifier: MIT
/* The boot hart's path from entry to power-off. */
#include <kernel/heap.h>
#include <asm/layout.h>
#include <kernel/arch.h>
#include <kernel/bench.h>
#include <kernel/boot.h>
#include <kernel/cmdline.h>
#include <kernel/console.h>
#include <kernel/kmap.h>
#include <kernel/panic.h>
#include <kernel/printk.h>
#include <kernel/smp.h>
#include <libfdt.h>
#include <mm/bootmem.h>
#include <mm/buddy.h>
#include <mm/heap.h>
#include <mm/numa.h>
#include <mm/phys.h>

struct boot_info boot_info;

static void check_device_tree(phys_addr_t pa)
{
	const void *fdt = phys_to_virt(pa);
	struct dt_error err;

	if (!pa)
		panic("no device tree: the firmware passed a null pointer");
	if (pa >= BOOT_DIRECT_MAP_SIZE)
		panic("device tree at %#llx: beyond the %llu GiB the boot page tables map",
		      (unsigned long long)pa, (unsigned long long)(BOOT_DIRECT_MAP_SIZE >> 30));
	if (dt_check_blob(fdt, 0, &err) < 0)
		panic("device tree at %p: %s", fdt, err.msg);
	arch_mmu_pick_mode(fdt);
	boot_info.fdt = phys_to_virt(pa); /* where the direct map is now */
	boot_info.fdt_pa = pa;
	boot_info.fdt_size = fdt_totalsize(boot_info.fdt);
}

static void build_memory_map(void)
{
	struct resv_region image[2] = {
		{ .base = kernel_phys_base, .size = (uintptr_t)(_end - _start),
		  .kind = RESV_KERNEL, .name = "kernel" },
		{ .base = boot_info.fdt_pa, .size = boot_info.fdt_size,
		  .kind = RESV_DTB, .name = "dtb" },
	};
	const uint64_t boot_map = BOOT_DIRECT_MAP_SIZE; /* riscv64: DIRECT_MAP_SIZE itself */
	struct dt_error err;
	uint64_t cut;

	if (memmap_from_fdt(&boot_info.memmap, boot_info.fdt, 0, image, 2,
			    MEMMAP_RESERVE_INITRD, &err) < 0)
		panic("boot memory map: %s", err.msg);
	/*
	 * RAM beyond the direct map is left out. The boot allocator's blocks
	 * (the early heap, the buddy's metadata) are used through the boot
	 * page tables, which may map less (arm64: 512 GiB): they stay below
	 * that, where a top-down allocation would otherwise land first, and
	 * the buddy takes the rest once the final tables map it (kmap.c).
	 */
	cut = memmap_clip(&boot_info.memmap, DIRECT_MAP_SIZE);
	if (cut)
		printk("memory map: %llu MiB of RAM at or above %llu GiB left out: beyond the "
		       "direct map\n",
		       (unsigned long long)(cut >> 20), (unsigned long long)(DIRECT_MAP_SIZE >> 30));
	if (boot_map < DIRECT_MAP_SIZE)
		bootmem_set_ceiling(boot_map);
	memmap_print(&boot_info.memmap);
}

static void build_hart_table(void)
{
	struct dt_error err;

	if (harts_from_fdt(&boot_info.harts, boot_info.fdt, boot_info.boot_hartid, &err) < 0)
		panic("hart table: %s", err.msg);
	harts_print(&boot_info.harts);
}

/* Before the buddy: its banks end where nodes do, and each hart is served from its own. */
static void build_numa_map(void)
{
	static struct numa_map map;
	struct dt_error err;

	if (numa_from_fdt(&map, boot_info.fdt, &boot_info.harts, &boot_info.memmap, &err) < 0)
		printk("numa: %s: taken as one node\n", err.msg);
	numa_set_map(&map);
	numa_print(boot_info.harts.nr);
}

/*
 * From here on every frame belongs to the buddy allocator; the boot
 * allocator is done. With "bench" its set-up is measured per GiB
 * (scripts/bench.sh boots 1, 64 and 512 GiB with bench=setup: linear?).
 */
static void start_frame_allocator(bool bench)
{
	struct bench_sample t0 = bench_now(), t1;
	struct buddy_stats s;

	if (buddy_init(&boot_info.memmap) < 0)
		panic("buddy: cannot take over memory from the boot map");
	t1 = bench_now();
	buddy_stats(&s);
	if (bench) /* 2^18 frames of 4 KiB a GiB */
		bench_report("buddy-setup", t0, t1, MAX(s.total >> 18, (uint64_t)1), "GiB");
	printk("buddy: %llu frames in %u bank(s): %llu free, %llu early, %llu reserved; "
	       "metadata %llu KiB (%u B/frame)\n",
	       (unsigned long long)s.total, s.nr_banks, (unsigned long long)s.free,
	       (unsigned long long)s.early, (unsigned long long)s.reserved,
	       (unsigned long long)(s.metadata_bytes >> 10), FRAME_META_BYTES);
	buddy_dump();
}

void start_kernel(uint64_t boot_hartid, phys_addr_t dtb)
{
	const void *fdt;

	boot_info.boot_hartid = boot_hartid;
	boot_info.fdt_pa = dtb; /* the early console asks it where RAM is (checked below) */
	printk("\nmemcore: booting on hart %llu, %s, image %p-%p (physical %#llx), DTB at %#llx\n",
	       (unsigned long long)boot_hartid, arch_describe_entry(), _start, _end,
	       (unsigned long long)kernel_phys_base, (unsigned long long)dtb);
	check_device_tree(dtb);
	fdt = boot_info.fdt;
	arch_init_from_dt(fdt);
	poweroff_init_from_dt(fdt);
	if (console_init_from_dt(fdt) == 0)
		;
	else if (console_stdout_is_firmware(fdt))
		printk("console: /chosen/stdout-path names the firmware's console; staying on it\n");
	else
		printk("console: /chosen/stdout-path names no UART we drive; staying on the early console\n");
	printk("console: %s at %#llx\n", console_name(), (unsigned long long)console_base());
	cmdline_init(fdt);
	printk("command line: \"%s\"\n", cmdline());

	build_memory_map();
	build_hart_table();
	build_numa_map();
	heap_kernel_early_init(&boot_info.memmap); /* kmalloc() works from here on */

	bool bench = cmdline_has(cmdline(), "bench");
	/* "notest": a kernel built with its tests boots without them (make run) */
	bool tests = KTEST_BUILT_IN && !bench && !cmdline_has(cmdline(), "notest");

	if (bench)
		run_kernel_benches();
	else if (tests)
		run_boot_tests();
	start_frame_allocator(bench);
	if (bench && cmdline_has(cmdline(), "bench=setup")) {
		printk("bench: done\n");
		arch_poweroff(true);
	}
	kmap_init(&boot_info.memmap, boot_info.fdt_pa, boot_info.fdt_size);
	smp_boot();
	heap_kernel_init(&kernel_space, boot_info.harts.nr);
	if (bench)
		run_heap_benches();
	/*
	 * A hart the DT lists that was started and never came up fails the
	 * boot, tests or not; one it gives no way to start was said above.
	 */
	unsigned int startable = boot_info.harts.nr - smp_nr_unstartable();
	bool harts_ok = smp_nr_online() == startable;

	if (!harts_ok)
		printk("memcore: only %u of the %u harts listed came up\n", smp_nr_online(),
		       startable);
	if (tests) {
		bool ok = run_mm_tests() && harts_ok;

		printk("memcore: tests %s, powering off\n", ok ? "passed" : "FAILED");
		arch_poweroff(ok);
	}
	heap_dump();
	printk("memcore: boot %s, powering off\n", harts_ok ? "complete" : "FAILED");
	arch_poweroff(harts_ok);
}
