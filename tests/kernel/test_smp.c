// SPDX-License-Identifier: MIT
/*
 * The started harts, checked from inside: every hart the DT lists is up,
 * knows its index and ID, runs on its own guarded stack in the kernel's
 * tables, shares memory coherently under a lock, and sees a mapping change
 * the boot hart makes (TLB shootdown).
 */
#include <asm/layout.h>
#include <kernel/arch.h>
#include <kernel/boot.h>
#include <kernel/cmdline.h>
#include <kernel/errno.h>
#include <kernel/fault.h>
#include <kernel/hart.h>
#include <kernel/kmap.h>
#include <kernel/ktest.h>
#include <kernel/smp.h>
#include <kernel/spinlock.h>
#include <mm/buddy.h>
#include <mm/kmalloc.h>
#include <mm/phys.h>

/*
 * Every hart the DT lists and gives a way to start is online. test.harts:
 * the harts the DT lists (test_boot.c), beyond MAX_HARTS parked;
 * test.unstartable: how many of them it gives no way to start.
 */
static void every_listed_hart_is_online(struct ktest *t)
{
	uint64_t want, unstartable = 0;

	cmdline_get_size("test.unstartable", &unstartable);
	KT_EXPECT_EQ(t, smp_nr_unstartable(), unstartable);
	KT_EXPECT_EQ(t, smp_nr_online(), boot_info.harts.nr - unstartable);
	KT_EXPECT(t, smp_hart_online(0));
	if (cmdline_get_size("test.harts", &want))
		KT_EXPECT_EQ(t, smp_nr_online(), MIN(want, (uint64_t)MAX_HARTS) - unstartable);
}

struct whoami {
	unsigned int index;
	uintptr_t sp, local, root;
	uint64_t hw_id;
};

static void tell_who(void *arg)
{
	struct whoami *w = arg;
	int on_stack;

	w->index = this_hart_index();
	w->sp = (uintptr_t)&on_stack;
	w->local = (uintptr_t)&hart_locals[w->index];
	w->root = arch_mmu_root();
#ifdef CONFIG_ARM64
	{
		unsigned long mpidr;

		__asm__ volatile("mrs %0, mpidr_el1" : "=r"(mpidr));
		w->hw_id = mpidr & 0xff00ffffffUL;
	}
#else
	w->hw_id = hart_locals[w->index].entry_hartid; /* what SBI passed in a0 */
#endif
}

/* The first online hart after index 0 (0 if none): the one a two-hart test uses. */
static unsigned int other_hart(void)
{
	for (unsigned int i = 1; i < boot_info.harts.nr; i++)
		if (smp_hart_online(i))
			return i;
	return 0;
}

static void each_hart_knows_itself(struct ktest *t)
{
	if (smp_nr_online() < 2)
		KT_SKIP(t, "one hart online");
	for (unsigned int i = 1; i < boot_info.harts.nr; i++) {
		struct whoami w = { 0 };

		if (!smp_hart_online(i))
			continue;
		KT_ASSERT(t, smp_call(i, tell_who, &w));
		KT_EXPECT_EQ(t, w.index, i);
		KT_EXPECT_EQ(t, w.hw_id, boot_info.harts.id[i]);
		KT_EXPECT_EQ(t, w.root, kernel_space.root);
		KT_EXPECT_GE(t, w.sp, smp_stack_base(i));
		KT_EXPECT_LT(t, w.sp, smp_stack_base(i) + HART_STACK_SIZE);
	}
}

static void stacks_have_guard_pages(struct ktest *t)
{
	if (smp_nr_online() < 2)
		KT_SKIP(t, "one hart online");
	for (unsigned int i = 1; i < boot_info.harts.nr; i++) {
		uintptr_t base = smp_stack_base(i);
		uint64_t v;

		if (!smp_hart_online(
			i)) { /* never started: no stack; given up: kept, guard and all */
			KT_EXPECT_EQ(t, mmu_translate(&kernel_space, base, NULL, NULL, NULL),
				     smp_hart_given_up(i) ? 0 : -ENOENT);
			KT_EXPECT_EQ(
			    t, mmu_translate(&kernel_space, base - PAGE_SIZE, NULL, NULL, NULL),
			    -ENOENT);
			continue;
		}
		KT_EXPECT_EQ(t, mmu_translate(&kernel_space, base, NULL, NULL, NULL), 0);
		KT_EXPECT_EQ(t, mmu_translate(&kernel_space, base - PAGE_SIZE, NULL, NULL, NULL), -ENOENT);
		KT_EXPECT_EQ(t, probe_read(base - 8, &v), -EFAULT);
	}
}

/*
 * 8000 rounds in all, shared by the harts online, each hart at least 10.
 * Under TCG a ticket hand-off waits until the host schedules the vCPU whose
 * turn it is: with 64 vCPUs on two busy host cores the test once took five
 * minutes. So with more than KTEST_DEADLINE_HARTS a hart also stops,
 * after its first 10, at a deadline; each counts the rounds it did, and
 * the shared counter must equal their sum, so a lost update still shows
 * however many rounds ran.
 */
#define ROUNDS_IN_ALL 8000
#define ROUNDS_AT_LEAST 10
#define LOCK_TEST_SECONDS 10

static spinlock_t counter_lock;
static unsigned long counter;
static unsigned int rounds;
static uint64_t lock_test_end;

static void count_up(void *arg)
{
	unsigned int *done = arg, i;

	for (i = 0; i < rounds; i++) {
		if (i >= ROUNDS_AT_LEAST && ktest_past(lock_test_end))
			break;
		spin_lock(&counter_lock);
		counter++;
		spin_unlock(&counter_lock);
	}
	*done = i;
}

/* Every hart at once: a lost update would show as a short count. */
static void lock_is_exclusive_across_harts(struct ktest *t)
{
	unsigned int n = boot_info.harts.nr, *done;
	unsigned long sum = 0;

	if (smp_nr_online() < 2)
		KT_SKIP(t, "one hart online");
	done = kcalloc(n, sizeof(*done));
	KT_ASSERT(t, done);
	counter = 0;
	rounds = MAX(ROUNDS_IN_ALL / smp_nr_online(), (unsigned int)ROUNDS_AT_LEAST);
	lock_test_end = ktest_deadline(smp_nr_online(), LOCK_TEST_SECONDS);
	for (unsigned int i = 1; i < n; i++)
		if (smp_hart_online(i))
			KT_ASSERT(t, smp_call_async(i, count_up, &done[i]));
	count_up(&done[0]);
	for (unsigned int i = 1; i < n; i++)
		if (smp_hart_online(i))
			smp_wait(i);
	for (unsigned int i = 0; i < n; i++) {
		if (smp_hart_online(i))
			KT_EXPECT_GE(t, done[i], (unsigned int)ROUNDS_AT_LEAST);
		sum += done[i];
	}
	KT_EXPECT_EQ(t, counter, sum);
	if (sum < (unsigned long)rounds * smp_nr_online())
		ktest_log(t, "%lu of %lu rounds ran in %u s", sum,
			  (unsigned long)rounds * smp_nr_online(), LOCK_TEST_SECONDS);
	kfree(done);
}

struct remote_access {
	uintptr_t va;
	uint64_t value;
	int ret;
	bool write;
};

static void access_there(void *arg)
{
	struct remote_access *a = arg;

	a->ret = a->write ? probe_write(a->va, a->value) : probe_read(a->va, &a->value);
}

/*
 * Another hart uses a mapping (so its TLB holds it), then the boot hart makes
 * it read-only and then unmaps it: the other must fault at once both times.
 */
static void mapping_changes_reach_other_harts(struct ktest *t)
{
	const uintptr_t va = VMAP_BASE + 32 * PAGE_SIZE;
	struct remote_access a = { .va = va, .write = true, .value = 0xabcd };
	unsigned int other = other_hart();
	phys_addr_t pa;

	if (!other)
		KT_SKIP(t, "one hart online");
	KT_ASSERT_EQ(t, buddy_alloc(0, &pa), 0);
	KT_ASSERT_EQ(t, mmu_map(&kernel_space, va, pa, PAGE_SIZE,
				MMU_PROT_READ | MMU_PROT_WRITE | MMU_PROT_GLOBAL, 0), 0);
	KT_ASSERT(t, smp_call(other, access_there, &a));
	KT_EXPECT_EQ(t, a.ret, 0);
	KT_EXPECT_EQ(t, *(uint64_t *)phys_to_virt(pa), 0xabcd);

	KT_EXPECT_EQ(t, mmu_protect(&kernel_space, va, PAGE_SIZE, MMU_PROT_READ | MMU_PROT_GLOBAL, 0), 0);
	a.value = 1;
	KT_ASSERT(t, smp_call(other, access_there, &a));
	KT_EXPECT_EQ(t, a.ret, -EFAULT);
	KT_EXPECT_EQ(t, *(uint64_t *)phys_to_virt(pa), 0xabcd);

	a.write = false;
	KT_ASSERT(t, smp_call(other, access_there, &a));
	KT_EXPECT_EQ(t, a.ret, 0);
	KT_EXPECT_EQ(t, a.value, 0xabcd);
	KT_EXPECT_EQ(t, mmu_unmap(&kernel_space, va, PAGE_SIZE), 0);
	KT_ASSERT(t, smp_call(other, access_there, &a));
	KT_EXPECT_EQ(t, a.ret, -EFAULT);
	buddy_free(pa, 0);
}

static const struct ktest_case smp_cases[] = {
	KTEST_CASE(every_listed_hart_is_online),
	KTEST_CASE(each_hart_knows_itself),
	KTEST_CASE(stacks_have_guard_pages),
	KTEST_CASE(lock_is_exclusive_across_harts),
	KTEST_CASE(mapping_changes_reach_other_harts),
	{ 0 },
};

const struct ktest_suite smp_suite = { .name = "smp", .cases = smp_cases };
