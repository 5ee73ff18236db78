/* SPDX-License-Identifier: MIT */
#ifndef MM_HARTS_H
#define MM_HARTS_H

/*
 * The hart table: every /cpus child with device_type "cpu" and status okay,
 * hart ID -> dense index. Hart IDs can be sparse (RISC-V hart IDs, AArch64
 * MPIDR affinity values), so per-hart data is indexed by the dense index.
 * The boot hart always gets index 0; the rest follow in DT order.
 */

#include <mm/dt.h>
#include <mm/port.h>

#ifdef CONFIG_MAX_HARTS
#define MAX_HARTS CONFIG_MAX_HARTS
#else
#define MAX_HARTS 8
#endif

#define HART_ID_INVALID (~(uint64_t)0)

struct hart_table {
	unsigned int nr;	/* harts in the table */
	unsigned int nr_ignored; /* harts the DT lists beyond MAX_HARTS */
	uint64_t id[MAX_HARTS]; /* dense index -> hart ID */
};

/* -EINVAL with err when /cpus is missing or malformed or lacks the boot hart. */
int harts_from_fdt(struct hart_table *t, const void *fdt, uint64_t boot_hartid,
		   struct dt_error *err);

/* The offset of the available cpu node whose hart ID is hartid, or -1. */
int harts_cpu_node(const void *fdt, uint64_t hartid);

/*
 * Calls fn(id, arg) for each available cpu of the DT that is not in t
 * (beyond MAX_HARTS); returns how many.
 */
unsigned int harts_for_each_ignored(const void *fdt, const struct hart_table *t,
				    void (*fn)(uint64_t id, void *arg), void *arg);

/* Dense index of hartid, or -1. */
int hart_index(const struct hart_table *t, uint64_t hartid);

void harts_print(const struct hart_table *t);

#endif
