/* SPDX-License-Identifier: MIT */
#ifndef PORT_HART_H
#define PORT_HART_H

/*
 * kernel/hart.h for libmemcore, inline: a thread acts as the hart its
 * shim_cur points at (libmemcore/harts.c), whose struct hart_slot starts
 * with the part mm/ reads on every call.
 */

struct hart_slot;

struct shim_hart_local {
	void *mm;	    /* this_hart_mm_slot() */
	unsigned int index; /* this_hart_index() */
};

extern __thread struct hart_slot *shim_cur __attribute__((tls_model("initial-exec")));

static inline struct shim_hart_local *shim_hart_local(void)
{
	return (struct shim_hart_local *)shim_cur;
}

static inline unsigned int this_hart_index(void)
{
	return shim_hart_local()->index;
}

static inline void **this_hart_mm_slot(void)
{
	return &shim_hart_local()->mm;
}

void **hart_mm_slot(unsigned int index);

#endif
