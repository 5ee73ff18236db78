// SPDX-License-Identifier: MIT
/*
 * Two frees of one slab object (a double free), the owner's and another
 * hart's, forced through every order in which they can meet (the owner's
 * free swaps its free tag into the object's first word, decides on what
 * it took out, puts a remote free's mark or link back, then caches it; a
 * remote free reads the word and swaps in its mark with a compare-and-swap,
 * then takes the pending bit, checks the allocation bit and links the
 * object): one free is
 * stopped at a step where the other may cut in (the heap's HEAP_RACE
 * hooks, compiled in for this program only), the other runs to its end,
 * then the first goes on. Whatever the order, exactly one of the two is
 * reported, the object is freed exactly once, and afterwards every heap is
 * empty and the buddy is back to its baseline.
 */
#include <mm/heap_hart.h>
#include <kernel/ktest.h>
#include <mm/heap.h>
#include <mm/kmalloc.h>
#include <mm/port.h>
#include <pthread.h>
#include <semaphore.h>
#include <time.h>

#include "../../../mm/heap/hart/heap_hart.h"
#include "../arena.h"
#include "../heap_host.h"

#define NR_HARTS 4

void (*heap_race_hook)(enum heap_race_point pt, const void *obj);

#define NO_STOP ((enum heap_race_point) - 1)

/* Where a free is to stop: at pt on obj, on the hart that runs it, once. */
struct stop {
	enum heap_race_point pt;
	const void *obj;
	unsigned int hart;
	sem_t stopped, go_on;
	int hit;
};

static struct stop stops[2];

static void stop_here(enum heap_race_point pt, const void *obj)
{
	for (int i = 0; i < 2; i++) {
		struct stop *st = &stops[i];

		if (st->pt == pt && st->obj == obj && st->hart == this_hart_index() &&
		    !__atomic_exchange_n(&st->hit, 1, __ATOMIC_ACQ_REL)) {
			sem_post(&st->stopped);
			sem_wait(&st->go_on);
		}
	}
}

struct freer {
	unsigned int hart;
	void *p;
	void *before; /* freed first, from before_hart (no stop on it) */
	unsigned int before_hart;
	bool drain; /* not a kfree: the owner takes its queue (heap_idle()), then allocates */
	bool refill; /* not a kfree: the owner empties its cache, then allocates (taking the queue)
		      */
	bool flush; /* not a kfree: the owner's heap_flush(), its cache back to the pages */
	bool realloc; /* after the kfree, the owner allocates the class again (got) */
	void *got;
	struct stop *stop; /* told when the free is over, stopped or not */
};

static void *run_free(void *arg)
{
	struct freer *f = arg;

	if (f->before) {
		arena_set_hart(f->before_hart);
		kfree(f->before);
	}
	arena_set_hart(f->hart);
	if (f->drain || f->refill) {
		if (f->drain)
			heap_idle();
		else
			heap_flush();
		f->got = kmalloc(32);
	} else if (f->flush) {
		heap_flush();
	} else {
		kfree(f->p);
	}
	if (f->realloc)
		f->got = kmalloc(32);
	sem_post(&f->stop->stopped);
	return NULL;
}

/* Until f has stopped at its point or finished (false if neither within 10 s: a hang). */
static bool stopped_or_done(struct stop *st)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 10;
	return sem_timedwait(&st->stopped, &until) == 0;
}

/*
 * first runs until it stops at pt1 on p; then second runs, stopping at pt2
 * if it gets there (NO_STOP: it runs whole); then first goes on to its
 * end, then second. Each in a thread of its own. Fails the case if first
 * never stopped; *second_stopped says whether second did. Returns the
 * misuse reports of the two frees.
 */
static unsigned int race(struct ktest *t, struct freer *first, enum heap_race_point pt1,
			 struct freer *second, enum heap_race_point pt2, void *p,
			 bool *second_stopped)
{
	pthread_t a, b;

	stops[0] = (struct stop){ .pt = pt1, .obj = p, .hart = first->hart };
	stops[1] = (struct stop){ .pt = pt2, .obj = p, .hart = second->hart };
	for (int i = 0; i < 2; i++) {
		sem_init(&stops[i].stopped, 0, 0);
		sem_init(&stops[i].go_on, 0, 0);
	}
	first->stop = &stops[0];
	second->stop = &stops[1];
	heap_host_misuses(NULL, NULL);
	heap_race_hook = stop_here;
	pthread_create(&a, NULL, run_free, first);
	KT_EXPECT(t, stopped_or_done(&stops[0]));
	KT_EXPECT(t, stops[0].hit); /* the order asked for did happen */
	pthread_create(&b, NULL, run_free, second);
	KT_EXPECT(t, stopped_or_done(&stops[1]));
	*second_stopped = stops[1].hit;
	sem_post(&stops[0].go_on);
	pthread_join(a, NULL);
	sem_post(&stops[1].go_on);
	pthread_join(b, NULL);
	heap_race_hook = NULL;
	arena_set_hart(0);
	return heap_host_misuses(NULL, NULL);
}

/* p is free now, once: taking the class's objects hands it out exactly once. */
static void freed_once(struct ktest *t, void *p)
{
	enum { N = 300 }; /* more than a page of 32-byte objects */
	void *v[N];
	unsigned int seen = 0;

	heap_host_quiesce(NR_HARTS);
	for (int i = 0; i < N; i++) {
		v[i] = kmalloc(32);
		seen += v[i] == p;
	}
	KT_EXPECT_EQ(t, seen, 1);
	for (int i = 0; i < N; i++)
		kfree(v[i]);
	KT_EXPECT_EQ(t, heap_host_misuses(NULL, NULL), 0);
}

static void *setup_object(void **keep)
{
	*keep = kmalloc(32); /* a neighbour, so the page stays in its class */
	return kmalloc(32);
}

static void finish(struct ktest *t, void *keep)
{
	heap_race_no_inbox = false;
	kfree(keep);
	heap_host_expect_baseline(t, NR_HARTS);
}

/*
 * Hart 0's cache of 32-byte objects full, so that its free of an object
 * goes to the page (heap_free_own()'s own claim, not the cache's).
 */
static void fill_cache(void)
{
	enum { N = 128 }; /* twice what the class's cache holds */
	void *v[N];

	for (int i = 0; i < N; i++)
		v[i] = kmalloc(32);
	for (int i = 0; i < N; i++)
		kfree(v[i]);
}

/*
 * The owner has swapped its tag into the object's first word (its free has
 * committed) and done no more; hart 1's free finds the tag and is refused,
 * nothing queued; the owner's goes on. to_page: the owner's cache is full,
 * its free goes to the page (heap_free_own()'s own swap).
 */
static void remote_cuts_in(struct ktest *t, bool to_page)
{
	void *keep, *p = setup_object(&keep);
	struct freer owner = { .hart = 0, .p = p }, remote = { .hart = 1, .p = p };
	struct heap_hart_stats s;
	bool stopped;

	if (to_page)
		fill_cache();
	KT_EXPECT_EQ(t, race(t, &owner, RACE_OWNER_CHECKED, &remote, NO_STOP, p, &stopped), 1);
	KT_EXPECT(t, !heap_hart_has_queue(0));
	KT_ASSERT_EQ(t, heap_hart_stats(0, &s), 0);
	KT_EXPECT_EQ(t, s.cls[2].remote_frees, 0); /* the owner's free went on */
	freed_once(t, p);
	finish(t, keep);
}

static void remote_cuts_into_the_owners_free(struct ktest *t)
{
	remote_cuts_in(t, false);
}

static void remote_cuts_into_the_owners_free_to_the_page(struct ktest *t)
{
	remote_cuts_in(t, true);
}

/*
 * Hart 1 has swapped its mark into the object's first word and stopped at
 * pt (no more, or a slot of the owner's inbox reserved, not yet filled):
 * the owner's free reads the mark, puts it back and is refused; hart 1's
 * free goes on, the object in the inbox with its mark. to_page: the
 * owner's cache is full, its free goes to the page.
 */
static void owner_cuts_in(struct ktest *t, bool to_page, enum heap_race_point pt)
{
	void *keep, *p = setup_object(&keep);
	struct freer owner = { .hart = 0, .p = p }, remote = { .hart = 1, .p = p };
	bool stopped;

	if (to_page)
		fill_cache();
	KT_EXPECT_EQ(t, race(t, &remote, pt, &owner, NO_STOP, p, &stopped), 1);
	KT_EXPECT(t, heap_hart_has_queue(0));
	KT_EXPECT_EQ(t, *(uintptr_t *)p, heap_mark(p)); /* the mark, back in */
	freed_once(t, p);
	finish(t, keep);
}

static void owner_cuts_into_a_remote_free(struct ktest *t)
{
	owner_cuts_in(t, false, RACE_REMOTE_CLAIMED);
}

static void owner_cuts_into_a_remote_free_to_the_page(struct ktest *t)
{
	owner_cuts_in(t, true, RACE_REMOTE_CLAIMED);
}

static void the_owner_finds_the_mark_of_a_free_in_the_inbox(struct ktest *t)
{
	owner_cuts_in(t, false, RACE_REMOTE_RESERVED);
}

/*
 * Hart 1 has swapped its mark into the object's first word (its free has
 * committed), no more: the owner's free reads the mark and is refused, so
 * it cannot put the object in its cache and allocate it again while hart
 * 1's free goes on (which would queue a live object).
 */
static void the_owner_finds_the_mark_and_cannot_allocate_it_again(struct ktest *t)
{
	void *keep, *p = setup_object(&keep);
	struct freer owner = {.hart = 0, .p = p, .realloc = true}, remote = {.hart = 1, .p = p};
	bool stopped;

	KT_ASSERT_EQ(t, *(uintptr_t *)p, 0);
	KT_EXPECT_EQ(t, race(t, &remote, RACE_REMOTE_CLAIMED, &owner, NO_STOP, p, &stopped), 1);
	KT_EXPECT(t, owner.got != NULL && owner.got != p); /* another object */
	KT_EXPECT(t, heap_hart_has_queue(0));		   /* hart 1's free went on */
	kfree(owner.got);
	KT_EXPECT_EQ(t, heap_host_misuses(NULL, NULL), 0);
	freed_once(t, p);
	finish(t, keep);
}

/*
 * A first word that looks like a link (its user's data, with no pending
 * bit) when hart 1's free swaps its mark in: hart 1 goes on, the owner's
 * free reads the mark and is refused. Not both refused (which would lose
 * the object), not both on.
 */

static void a_word_like_a_link_then_two_frees(struct ktest *t)
{
	void *keep, *p = setup_object(&keep);
	struct freer owner = {.hart = 0, .p = p}, remote = {.hart = 1, .p = p};
	bool stopped;

	*(uintptr_t *)p = free_tag(heap_tag_key, p) ^ 5;
	KT_EXPECT_EQ(t, race(t, &remote, RACE_REMOTE_CLAIMED, &owner, NO_STOP, p, &stopped), 1);
	KT_EXPECT(t, heap_hart_has_queue(0));
	freed_once(t, p);
	finish(t, keep);
}

/*
 * Hart 1's free has read the word (its user's data), not yet swapped its
 * mark in; the owner's free swaps its tag in and goes on: hart 1's
 * compare-and-swap fails, it reads the tag and is refused. Were a free to
 * decide on what it had read alone, both would go on and the object be
 * handed out twice.
 */
static void the_remote_read_then_the_owner_swaps(struct ktest *t)
{
	void *keep, *p = setup_object(&keep);
	struct freer owner = {.hart = 0, .p = p}, remote = {.hart = 1, .p = p};
	bool stopped;

	KT_EXPECT_EQ(t, race(t, &remote, RACE_REMOTE_READ, &owner, NO_STOP, p, &stopped), 1);
	KT_EXPECT(t, !heap_hart_has_queue(0)); /* hart 1 was refused */
	freed_once(t, p);
	finish(t, keep);
}

/*
 * Hart 1 has swapped its mark in (committed); the owner's free swaps its
 * tag over the mark and stops before it looks at what it got; hart 1 goes
 * on, writes its link over the owner's tag and pushes; the owner finds the
 * mark, is refused, and its attempt to put the mark back fails, leaving
 * the link: the queue holds the object, whole.
 */
static void the_owner_swaps_over_a_mark_then_the_remote_links(struct ktest *t)
{
	void *keep, *p = setup_object(&keep);
	struct freer owner = {.hart = 0, .p = p}, remote = {.hart = 1, .p = p};
	bool stopped;

	heap_race_no_inbox = true; /* the stack of links, as if the inbox were full */

	KT_EXPECT_EQ(
	    t, race(t, &remote, RACE_REMOTE_CLAIMED, &owner, RACE_OWNER_CHECKED, p, &stopped), 1);
	KT_EXPECT(t, stopped);
	KT_EXPECT(t, heap_hart_has_queue(0)); /* hart 1's free went on */
	freed_once(t, p);
	finish(t, keep);
}

/*
 * Hart 1 has linked the object, not yet pushed it; the owner's free swaps
 * its tag over the link and stops; hart 1 pushes the object, its first
 * word the owner's tag for now; the owner finds the link (the pending bit
 * set), is refused and puts the link back, so that the drain follows it.
 */
static void the_owner_swaps_over_a_link_then_the_remote_pushes(struct ktest *t)
{
	void *keep, *p = setup_object(&keep);
	struct freer owner = {.hart = 0, .p = p}, remote = {.hart = 1, .p = p};
	bool stopped;

	heap_race_no_inbox = true; /* the stack of links, as if the inbox were full */

	KT_EXPECT_EQ(
	    t, race(t, &remote, RACE_REMOTE_LINKED, &owner, RACE_OWNER_CHECKED, p, &stopped), 1);
	KT_EXPECT(t, stopped);
	KT_EXPECT(t, heap_hart_has_queue(0));
	KT_EXPECT_EQ(t, *(uintptr_t *)p, heap_link(p, NULL)); /* the link, back in */
	freed_once(t, p);
	finish(t, keep);
}

/*
 * An object free in its page whose tag a write after free took, freed
 * again by hart 1 and by the owner at once: hart 1 swaps its mark in; the
 * owner swaps its tag over the mark and stops; hart 1 finds the object
 * free in its page, puts the tag back itself and is reported; the owner,
 * refused too, must leave the tag (putting its mark back would leave a
 * free object with a mark and no free under way, which ksize() and later
 * frees misread).
 */
static void two_frees_of_an_object_free_in_its_page(struct ktest *t)
{
	void *keep, *p = setup_object(&keep);
	struct freer owner = {.hart = 0, .p = p}, remote = {.hart = 1, .p = p};
	bool stopped;

	kfree(p);
	heap_flush();		  /* into its page, its allocation bit clear */
	*(uintptr_t *)p = 0x1234; /* the write after free */
	KT_EXPECT_EQ(
	    t, race(t, &remote, RACE_REMOTE_CLAIMED, &owner, RACE_OWNER_CHECKED, p, &stopped), 2);
	KT_EXPECT(t, stopped);
	KT_EXPECT_EQ(t, *(uintptr_t *)p, free_tag(heap_tag_key, p));
	KT_EXPECT(t, !heap_hart_has_queue(0));
	freed_once(t, p);
	finish(t, keep);
}

/*
 * A write after free over the tag, then the same object freed again: the
 * tag is gone, but it is the object freed last (the naive check, as
 * SLUB's), reported, and it is handed out once.
 */
static void a_double_free_after_a_write_after_free(struct ktest *t)
{
	void *keep, *p = setup_object(&keep), *a, *b;

	heap_host_misuses(NULL, NULL);
	kfree(p);
	*(uintptr_t *)p = 0x1234; /* the write after free */
	kfree(p);
	KT_EXPECT_EQ(t, heap_host_misuses(NULL, NULL), 1);
	a = kmalloc(32);
	b = kmalloc(32);
	KT_EXPECT(t, a == p || b == p);
	KT_EXPECT(t, a != b);
	kfree(a);
	kfree(b);
	freed_once(t, p);
	finish(t, keep);
}

/*
 * Hart 1 has linked the object, not yet pushed it: the owner's swap finds
 * the link, puts it back and is refused, and hart 1's push goes on.
 */
static void owner_cuts_in_before_the_push(struct ktest *t)
{
	void *keep, *p = setup_object(&keep);
	struct freer owner = { .hart = 0, .p = p }, remote = { .hart = 1, .p = p };
	bool stopped;

	heap_race_no_inbox = true; /* the stack of links, as if the inbox were full */

	KT_EXPECT_EQ(t, race(t, &remote, RACE_REMOTE_LINKED, &owner, NO_STOP, p, &stopped), 1);
	KT_EXPECT(t, heap_hart_has_queue(0));
	freed_once(t, p);
	finish(t, keep);
}

/*
 * As above, and hart 2 queues another object of hart 0's in between, so
 * that hart 1's push fails once and links the object again after the
 * owner's refused free: the queue holds both, whole.
 */
static void a_push_retried_after_the_owner_was_refused(struct ktest *t)
{
	void *keep, *p = setup_object(&keep), *q = kmalloc(32);
	struct freer owner = {.hart = 0, .p = p, .before = q, .before_hart = 2},
		     remote = {.hart = 1, .p = p};
	bool stopped;

	heap_race_no_inbox = true; /* the stack of links, as if the inbox were full */

	KT_EXPECT_EQ(t, race(t, &remote, RACE_REMOTE_LINKED, &owner, NO_STOP, p, &stopped), 1);
	freed_once(t, p); /* and q freed: finish() finds every heap empty */
	finish(t, keep);
}

/*
 * Hart 1 has reserved a slot, not yet filled it, when hart 2 queues
 * another object behind it and the owner takes its queue and allocates:
 * the drain stops at the empty slot, taking neither (the object is not
 * handed out while its free is under way, nor is the one behind it
 * skipped past it), and a later drain takes both, once each.
 */
static void the_drain_stops_at_a_slot_not_yet_filled(struct ktest *t)
{
	void *keep, *p = setup_object(&keep), *q = kmalloc(32);
	struct freer owner = {.hart = 0, .drain = true, .before = q, .before_hart = 2},
		     remote = {.hart = 1, .p = p};
	struct heap_hart_stats s;
	bool stopped;

	KT_ASSERT(t, q != NULL);
	KT_EXPECT_EQ(t, race(t, &remote, RACE_REMOTE_RESERVED, &owner, NO_STOP, p, &stopped), 0);
	KT_EXPECT(t, owner.got != NULL && owner.got != p && owner.got != q);
	KT_EXPECT(t, heap_hart_has_queue(0)); /* the slot, filled since */
	KT_ASSERT_EQ(t, heap_hart_stats(0, &s), 0);
	KT_EXPECT_EQ(t, s.cls[2].remote_frees, 0);
	kfree(owner.got);
	freed_once(t, p);
	freed_once(t, q);
	finish(t, keep);
}

/* Two other harts free it at once: the second meets the first's mark. */
static void two_remote_frees(struct ktest *t)
{
	void *keep, *p = setup_object(&keep);
	struct freer a = { .hart = 1, .p = p }, b = { .hart = 2, .p = p };
	bool stopped;

	KT_EXPECT_EQ(t, race(t, &a, RACE_REMOTE_CHECKED, &b, NO_STOP, p, &stopped), 1);
	freed_once(t, p);
	finish(t, keep);
}

/* p, freed already, freed by hart: refused at once, nothing queued, p freed once. */
static void refused_from(struct ktest *t, unsigned int hart, void *p, void *keep)
{
	arena_set_hart(hart);
	kfree(p);
	arena_set_hart(0);
	KT_EXPECT_EQ(t, heap_host_misuses(NULL, NULL), 1);
	KT_EXPECT(t, !heap_hart_has_queue(0)); /* nothing queued */
	freed_once(t, p);
	finish(t, keep);
}

/*
 * Hart 1's free is queued; the owner takes the queue and stops in the
 * middle of its free while hart 2 frees the object too: refused, and the
 * object is freed once. to_page: the owner goes idle (heap_idle()), whose
 * drain frees the object into its page and stops between clearing the
 * allocation bit and letting the pending bit go; else an allocation with
 * the cache empty takes the queue, the object goes to the cache, and the
 * drain stops between writing its tag and letting the pending bit go.
 */
static void a_free_cuts_into_the_drain(struct ktest *t, bool to_page)
{
	void *keep, *p = setup_object(&keep);
	struct freer drain = {.hart = 0, .drain = to_page, .refill = !to_page},
		     third = {.hart = 2, .p = p};
	bool stopped;

	arena_set_hart(1);
	kfree(p); /* queued for hart 0 */
	arena_set_hart(0);
	KT_EXPECT_EQ(t,
		     race(t, &drain, to_page ? RACE_DRAIN_CLEARED : RACE_DRAIN_TAGGED, &third,
			  NO_STOP, p, &stopped),
		     1);
	KT_EXPECT(t, drain.got != NULL);
	kfree(drain.got);
	freed_once(t, p);
	finish(t, keep);
}

static void a_free_cuts_into_the_drain_to_the_cache(struct ktest *t)
{
	a_free_cuts_into_the_drain(t, false);
}

static void a_free_cuts_into_the_drain_to_the_page(struct ktest *t)
{
	a_free_cuts_into_the_drain(t, true);
}

/*
 * Frees queued from another hart, taken by the owner's allocation whose
 * cache ran dry: into the cache (the last one queued on top), so that the
 * allocation and the next ones hand them out, highest address first here
 * where a page's bitmap gives the lowest; each is still freed once, and a
 * free of one while it waits in the cache is refused from either hart.
 */
static void queued_frees_go_to_the_cache(struct ktest *t)
{
	enum { N = 8 };
	void *keep, *v[N], *got;

	keep = kmalloc(32); /* the page stays in its class */
	for (int i = 0; i < N; i++)
		v[i] = kmalloc(32);
	KT_ASSERT(t, keep != NULL);
	heap_flush(); /* hart 0's cache empty */
	arena_set_hart(1);
	for (int i = 0; i < N; i++) /* queued in the inbox in order: v[N - 1] taken last */
		kfree(v[i]);
	arena_set_hart(0);
	heap_host_misuses(NULL, NULL);
	got = kmalloc(32); /* the cache is empty: the refill takes the queue */
	KT_EXPECT(t, got == v[N - 1]);
	KT_EXPECT(t, !heap_hart_has_queue(0));
	kfree(v[0]); /* waiting in the cache */
	KT_EXPECT_EQ(t, heap_host_misuses(NULL, NULL), 1);
	arena_set_hart(2);
	kfree(v[1]);
	arena_set_hart(0);
	KT_EXPECT_EQ(t, heap_host_misuses(NULL, NULL), 1);
	KT_EXPECT(t, !heap_hart_has_queue(0)); /* refused, nothing queued */
	for (int i = N - 2; i >= 0; i--)
		KT_EXPECT(t, kmalloc(32) == v[i]);
	for (int i = 0; i < N - 1; i++)
		kfree(v[i]);
	kfree(got);
	freed_once(t, v[0]);
	freed_once(t, v[1]);
	finish(t, keep);
}

/*
 * Hart 1's free is queued and the owner takes the queue: a free of the
 * object from hart 2 then is refused at once, and it is handed out once.
 */
static void a_free_after_the_queue_was_taken(struct ktest *t)
{
	void *keep, *p = setup_object(&keep);

	arena_set_hart(1);
	kfree(p); /* queued for hart 0 */
	arena_set_hart(0);
	heap_host_misuses(NULL, NULL);
	heap_idle(); /* takes the queue */
	KT_EXPECT(t, !heap_hart_has_queue(0));
	refused_from(t, 2, p, keep);
}

/*
 * The owner's free put the object in its cache; its flush stops after
 * clearing the allocation bit, while hart 2 frees the object: refused,
 * and the object is freed once.
 */
static void a_free_cuts_into_the_cache_flush(struct ktest *t)
{
	void *keep, *p = setup_object(&keep);
	struct freer flush = { .hart = 0, .flush = true }, third = { .hart = 2, .p = p };
	bool stopped;

	kfree(p); /* into hart 0's cache */
	KT_EXPECT_EQ(t, race(t, &flush, RACE_DRAIN_CLEARED, &third, NO_STOP, p, &stopped), 1);
	freed_once(t, p);
	finish(t, keep);
}

/* A free from another hart of an object in the owner's cache: a double free, refused at once. */
static void a_remote_free_of_a_cached_object(struct ktest *t)
{
	void *keep, *p = setup_object(&keep);

	kfree(p); /* into hart 0's cache */
	heap_host_misuses(NULL, NULL);
	refused_from(t, 1, p, keep);
}

static int boot(struct ktest *t)
{
	heap_host_boot(64ULL << 20, 128 << 10);
	return heap_host_ready(t, NR_HARTS) ? 0 : -1;
}

/* ---- the mid blocks' cache ---------------------------------------------------------- */

#define MID_SIZE 4300

/* p, a mid object, is free now, once: taking its class's objects hands it out exactly once. */
static void mid_freed_once(struct ktest *t, void *p)
{
	enum { N = 20 }; /* more than the cache and a block hold */
	void *v[N];
	unsigned int seen = 0;

	heap_host_quiesce(NR_HARTS);
	for (int i = 0; i < N; i++) {
		v[i] = kmalloc(MID_SIZE);
		seen += v[i] == p;
	}
	KT_EXPECT_EQ(t, seen, 1);
	for (int i = 0; i < N; i++)
		kfree(v[i]);
	KT_EXPECT_EQ(t, heap_host_misuses(NULL, NULL), 0);
}

/*
 * The owner has swapped its tag into a mid object on its way into its
 * cache, its bit not yet read; hart 1's free into the block sets the bit,
 * finds the tag, lets the bit go and is reported; the owner's goes on.
 */
static void a_free_into_the_block_cuts_into_the_owners_cache_free(struct ktest *t)
{
	void *keep = kmalloc(MID_SIZE), *p = kmalloc(MID_SIZE);
	struct freer owner = {.hart = 0, .p = p}, remote = {.hart = 1, .p = p};
	bool stopped;

	KT_ASSERT(t, keep && p);
	KT_EXPECT_EQ(t, race(t, &owner, RACE_MID_OWNER_TAGGED, &remote, NO_STOP, p, &stopped), 1);
	mid_freed_once(t, p);
	finish(t, keep);
}

/*
 * The owner has found a mid object allocated on its way into its cache,
 * its tag not yet in; hart 1's free into the block sets the object's bit
 * and stops before it reads the word (holding the class's lock); the
 * owner swaps its tag in, finds the bit, puts the word back and is
 * reported; hart 1's goes on, finding no tag.
 */
static void a_free_into_the_block_between_the_owners_check_and_its_tag(struct ktest *t)
{
	void *keep = kmalloc(MID_SIZE), *p = kmalloc(MID_SIZE);
	struct freer owner = {.hart = 0, .p = p}, remote = {.hart = 1, .p = p};
	bool stopped;

	KT_ASSERT(t, keep && p);
	KT_EXPECT_EQ(
	    t, race(t, &owner, RACE_MID_OWNER_CHECKED, &remote, RACE_MID_REMOTE_SET, p, &stopped),
	    1);
	KT_EXPECT(t, stopped); /* the order asked for did happen */
	mid_freed_once(t, p);
	finish(t, keep);
}

/*
 * Not a race, the order the two above cannot force (hart 1 would stop
 * holding the class's lock, which the owner's free then waits for): hart
 * 1's free into the block done, the owner's finds the bit set before it
 * swaps anything in and takes the block's way, which reports it.
 */
static void the_owners_free_after_a_free_into_the_block(struct ktest *t)
{
	void *keep = kmalloc(MID_SIZE), *p = kmalloc(MID_SIZE);

	KT_ASSERT(t, keep && p);
	arena_set_hart(1);
	kfree(p);
	arena_set_hart(0);
	KT_EXPECT_EQ(t, heap_host_misuses(NULL, NULL), 0);
	kfree(p);
	KT_EXPECT_EQ(t, heap_host_misuses(NULL, NULL), 1);
	mid_freed_once(t, p);
	finish(t, keep);
}

static const struct ktest_case cases[] = {
    KTEST_CASE(remote_cuts_into_the_owners_free),
    KTEST_CASE(owner_cuts_into_a_remote_free),
    KTEST_CASE(remote_cuts_into_the_owners_free_to_the_page),
    KTEST_CASE(owner_cuts_into_a_remote_free_to_the_page),
    KTEST_CASE(the_owner_finds_the_mark_and_cannot_allocate_it_again),
    KTEST_CASE(a_word_like_a_link_then_two_frees),
    KTEST_CASE(a_double_free_after_a_write_after_free),
    KTEST_CASE(owner_cuts_in_before_the_push),
    KTEST_CASE(a_push_retried_after_the_owner_was_refused),
    KTEST_CASE(the_remote_read_then_the_owner_swaps),
    KTEST_CASE(the_owner_swaps_over_a_mark_then_the_remote_links),
    KTEST_CASE(the_owner_swaps_over_a_link_then_the_remote_pushes),
    KTEST_CASE(two_frees_of_an_object_free_in_its_page),
    KTEST_CASE(two_remote_frees),
    KTEST_CASE(the_owner_finds_the_mark_of_a_free_in_the_inbox),
    KTEST_CASE(the_drain_stops_at_a_slot_not_yet_filled),
    KTEST_CASE(a_free_cuts_into_the_drain_to_the_cache),
    KTEST_CASE(a_free_cuts_into_the_drain_to_the_page),
    KTEST_CASE(queued_frees_go_to_the_cache),
    KTEST_CASE(a_free_cuts_into_the_cache_flush),
    KTEST_CASE(a_remote_free_of_a_cached_object),
    KTEST_CASE(a_free_after_the_queue_was_taken),
    KTEST_CASE(a_free_into_the_block_cuts_into_the_owners_cache_free),
    KTEST_CASE(a_free_into_the_block_between_the_owners_check_and_its_tag),
    KTEST_CASE(the_owners_free_after_a_free_into_the_block),
    {0},
};

static const struct ktest_suite heap_races_suite = { "heap_races", cases, boot, NULL };

const struct ktest_suite *const test_suites[] = { &heap_races_suite };
const unsigned int test_nr_suites = ARRAY_SIZE(test_suites);
