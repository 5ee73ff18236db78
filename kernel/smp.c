// SPDX-License-Identifier: MIT
/* Starting the harts, and running work on them. */
#include <asm/layout.h>
#include <kernel/arch.h>
#include <kernel/boot.h>
#include <kernel/cmdline.h>
#include <kernel/compiler.h>
#include <kernel/errno.h>
#include <kernel/hart.h>
#include <kernel/kmap.h>
#include <kernel/panic.h>
#include <kernel/printk.h>
#include <kernel/smp.h>
#include <mm/buddy.h>
#include <mm/frame.h>
#include <mm/heap.h>
#include <mm/phys.h>
#include <stddef.h>

_Static_assert(offsetof(struct hart_local, index) == 0, "this_hart_index() reads word 0");
_Static_assert(offsetof(struct hart_local, boot_self) == HL_SELF, "head.S offsets");
_Static_assert(offsetof(struct hart_local, boot_mmu) == HL_MMU, "head.S offsets");
_Static_assert(offsetof(struct hart_local, boot_stack) == HL_STACK, "head.S offsets");
_Static_assert(offsetof(struct hart_local, hartid) == HL_HARTID, "head.S offsets");
_Static_assert(offsetof(struct hart_local, entry_hartid) == HL_ENTRY_HARTID, "head.S offsets");

struct hart_local hart_locals[MAX_HARTS] __aligned(64);

/*
 * How long the boot hart waits for a started hart to say it is up, by the
 * clock: on a loaded host a started vCPU thread can wait seconds for a core,
 * and a count of loop turns is no measure of time under emulation.
 * smp.online_wait=SECONDS on the command line changes it.
 */
#define ONLINE_WAIT_SECONDS 30

/*
 * hart_local.online: one hart moves it from WAITING, to ONLINE or GIVEN_UP;
 * NO_METHOD: the DT gives no way to start it that we have (never started).
 */
enum { HART_WAITING, HART_ONLINE, HART_GIVEN_UP, HART_NO_METHOD };

extern char secondary_entry[];

uintptr_t smp_stack_base(unsigned int index)
{
	return HART_STACKS_BASE + (uintptr_t)index * (HART_STACK_SIZE + PAGE_SIZE) + PAGE_SIZE;
}

bool smp_hart_online(unsigned int index)
{
	return index < MAX_HARTS &&
	       __atomic_load_n(&hart_locals[index].online, __ATOMIC_ACQUIRE) == HART_ONLINE;
}

bool smp_hart_given_up(unsigned int index)
{
	return index < MAX_HARTS &&
	       __atomic_load_n(&hart_locals[index].online, __ATOMIC_ACQUIRE) == HART_GIVEN_UP;
}

unsigned int smp_nr_unstartable(void)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < MAX_HARTS; i++)
		n += __atomic_load_n(&hart_locals[i].online, __ATOMIC_ACQUIRE) == HART_NO_METHOD;
	return n;
}

unsigned int smp_nr_online(void)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < MAX_HARTS; i++)
		n += smp_hart_online(i);
	return n;
}

/*
 * The first C of a started hart: say so, then run what smp_call() posts,
 * forever. A hart that comes up after the boot hart gave up on it is not in
 * the TLB shootdown mask, so it must not run kernel work: it parks.
 */
void secondary_start(struct hart_local *self) __noreturn;
void secondary_start(struct hart_local *self)
{
	int waiting = HART_WAITING;

	if (!__atomic_compare_exchange_n(&self->online, &waiting, HART_ONLINE, false,
					 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		arch_wait_forever();
	arch_hart_up();
	for (;;) {
		unsigned long seq = __atomic_load_n(&self->work_seq, __ATOMIC_ACQUIRE);

		if (seq == self->done_seq) {
			heap_idle(); /* frees other harts sent us: back to our pages before we sleep */
			arch_hart_idle();
			continue;
		}
		self->work(self->work_arg);
		__atomic_store_n(&self->done_seq, seq, __ATOMIC_RELEASE);
	}
}

bool smp_call_async(unsigned int index, void (*fn)(void *), void *arg)
{
	struct hart_local *h = &hart_locals[index];

	if (index == this_hart_index() || !smp_hart_online(index))
		return false;
	smp_wait(index);
	h->work = fn;
	h->work_arg = arg;
	__atomic_store_n(&h->work_seq, h->work_seq + 1, __ATOMIC_RELEASE);
	arch_kick_hart(h->hartid);
	return true;
}

void smp_wait(unsigned int index)
{
	struct hart_local *h = &hart_locals[index];

	while (__atomic_load_n(&h->done_seq, __ATOMIC_ACQUIRE) != h->work_seq)
		;
}

bool smp_call(unsigned int index, void (*fn)(void *), void *arg)
{
	if (!smp_call_async(index, fn, arg))
		return false;
	smp_wait(index);
	return true;
}

/*
 * A stack of buddy frames at its place in the stacks window, the page below
 * left unmapped. New entries only: smp_boot() calls it while harts are up
 * that are not yet in the kernel space's shootdowns.
 */
static int map_stack(unsigned int index, uintptr_t *top)
{
	uintptr_t base = smp_stack_base(index);
	phys_addr_t pa;
	int err = buddy_alloc(HART_STACK_ORDER, &pa);

	if (err)
		return err;
	frame_set_owner(pa, HART_STACK_ORDER, FRAME_ALLOCATED, 0, 0);
	err = mmu_map(&kernel_space, base, pa, HART_STACK_SIZE,
		      MMU_PROT_READ | MMU_PROT_WRITE | MMU_PROT_GLOBAL, 0);
	if (err) {
		buddy_free(pa, HART_STACK_ORDER);
		return err;
	}
	*top = base + HART_STACK_SIZE;
	return 0;
}

static void unmap_stack(unsigned int index)
{
	phys_addr_t pa;

	if (mmu_translate(&kernel_space, smp_stack_base(index), &pa, NULL, NULL) == 0 &&
	    mmu_unmap(&kernel_space, smp_stack_base(index), HART_STACK_SIZE) == 0)
		buddy_free(pa, HART_STACK_ORDER);
}

/*
 * Until the hart says it is up, or the clock runs out and we take the word
 * first. Each second without it, the arch nudges it and says what the
 * firmware knows (logged when that changes): a hart the firmware holds as
 * started but that never reached our code is another bug than one it
 * never started.
 */
static bool wait_online(struct hart_local *h)
{
	uint64_t hz = arch_time_hz(), start = arch_read_time(), secs = ONLINE_WAIT_SECONDS, limit;
	uint64_t next = hz, now;
	const char *said = NULL;
	int waiting = HART_WAITING;

	cmdline_get_size("smp.online_wait", &secs); /* seconds: shorter where a test expects none */
	limit = secs * hz;

	while ((now = arch_read_time() - start) < limit) {
		if (__atomic_load_n(&h->online, __ATOMIC_ACQUIRE) == HART_ONLINE)
			return true;
		if (now >= next) {
			const char *state = arch_hart_stuck(h->hartid, kimage_to_phys(h));

			if (state && state != said)
				printk("smp: hart %#llx not up after %llu s: firmware says %s\n",
				       (unsigned long long)h->hartid,
				       (unsigned long long)(now / hz), state);
			said = state;
			next += hz;
		}
	}
	if (__atomic_compare_exchange_n(&h->online, &waiting, HART_GIVEN_UP, false,
					__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		printk("smp: hart %#llx was started but did not come up in %llu s; "
		       "it will park if it ever does\n",
		       (unsigned long long)h->hartid, (unsigned long long)secs);
	return waiting == HART_ONLINE;
}

/*
 * test.stray_hart: hart 1 is started at the image's entry, as OpenSBI
 * before 1.3 may do by itself (see arch_hart_stuck()): it must be found
 * parked there and brought up.
 */
static bool stray_test(unsigned int index)
{
	return index == 1 && cmdline_has(cmdline(), "test.stray_hart");
}

/*
 * test.start_lied: hart 1's start is said refused, and made after that
 * has been taken, as a firmware that errs and starts it all the same: the
 * hart, given up at once, must park when it comes up.
 */
static bool lied_test(unsigned int index)
{
	return index == 1 && cmdline_has(cmdline(), "test.start_lied");
}

/*
 * True: the firmware has it on its way, for smp_boot() to wait for along
 * with the others. False: not started, or started alone (ARCH_START_ALONE)
 * and waited for here already.
 */
static bool start_hart(unsigned int index, uint64_t hartid)
{
	struct hart_local *h = &hart_locals[index];
	uintptr_t top;
	int err = map_stack(index, &top);

	if (err) {
		printk("smp: no stack for hart %#llx (error %d)\n", (unsigned long long)hartid, err);
		return false;
	}
	h->index = index;
	h->hartid = hartid;
	h->boot_self = (uintptr_t)h;
	h->boot_mmu = arch_mmu_boot_value(kernel_space.root);
	h->boot_stack = top;
	arch_clean_for_mmu_off(h, sizeof(*h));
	err = lied_test(index)
		  ? -EIO
		  : arch_start_hart(hartid,
				    kimage_to_phys(stray_test(index) ? _start : secondary_entry),
				    kimage_to_phys(h));
	if (err == -ENODEV) { /* the arch said why */
		h->online = HART_NO_METHOD;
		return false;
	}
	if (err < 0) {
		int waiting = HART_WAITING;

		/*
		 * Given up at once, its stack kept: should the firmware have
		 * started it all the same, it parks (secondary_start()) rather
		 * than fault on a stack unmapped; found up already, waited for.
		 */
		if (!__atomic_compare_exchange_n(&h->online, &waiting, HART_GIVEN_UP, false,
						 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			return true;
		printk("smp: the firmware did not start hart %#llx (error %d); it will park if "
		       "it ever comes up\n",
		       (unsigned long long)hartid, err);
		if (lied_test(index)) /* the firmware's start after all */
			arch_start_hart(hartid, kimage_to_phys(secondary_entry), kimage_to_phys(h));
		return false;
	}
	if (err == ARCH_START_ALONE) {
		if (wait_online(h))
			mmu_space_add_hart(&kernel_space, index);
		return false;
	}
	return true;
}

static void park_one(uint64_t id, void *arg)
{
	*(unsigned int *)arg += arch_park_hart(id) == 0;
}

void smp_boot(void)
{
	const struct hart_table *t = &boot_info.harts;
	uint64_t started[(MAX_HARTS + 63) / 64] = {0};

	hart_locals[0].hartid = t->id[0];
	hart_locals[0].online = HART_ONLINE;
	mmu_space_add_hart(&kernel_space, 0);
	arch_hart_up();
	/*
	 * Every hart started, then each waited for in turn, so that their ways
	 * up overlap (under QEMU, OpenSBI's harts spin until started: one at a
	 * time, 128 took 38 s). Each joins the kernel space's shootdowns as it
	 * is found up; until the last has, nothing may be unmapped (a hart up
	 * and not yet in the mask would miss the fence), so the stacks of
	 * harts that were never started go after, and of those given up never
	 * (they may come up yet).
	 */
	for (unsigned int i = 1; i < t->nr; i++)
		if (start_hart(i, t->id[i]))
			started[i / 64] |= 1ULL << (i % 64);
	for (unsigned int i = 1; i < t->nr; i++)
		if ((started[i / 64] >> (i % 64) & 1) && wait_online(&hart_locals[i]))
			mmu_space_add_hart(&kernel_space, i);
	for (unsigned int i = 1; i < t->nr; i++) {
		int state = __atomic_load_n(&hart_locals[i].online, __ATOMIC_ACQUIRE);

		if (state == HART_NO_METHOD || state == HART_WAITING)
			unmap_stack(i);
	}
	if (t->nr_ignored) {
		unsigned int parked = 0;

		harts_for_each_ignored(boot_info.fdt, t, park_one, &parked);
		printk("smp: %u hart(s) beyond MAX_HARTS (%d): %u parked in a wfi loop of ours, "
		       "%u left where the firmware keeps them (off)\n",
		       t->nr_ignored, MAX_HARTS, parked, t->nr_ignored - parked);
	}
	printk("smp: %u of %u harts online:", smp_nr_online(), t->nr);
	for (unsigned int i = 0; i < t->nr; i++)
		if (smp_hart_online(i))
			printk(" %u:%#llx", i, (unsigned long long)t->id[i]);
	printk("\n");
	if (smp_nr_unstartable())
		printk("smp: running on %u hart(s): the DT gives no way we have to start the "
		       "other %u\n", smp_nr_online(), smp_nr_unstartable());
}
