// SPDX-License-Identifier: MIT
/*
 * GICv3, only for what an idle core needs: to sleep in wfi and be woken by
 * a software-generated interrupt (SGI) aimed at it. Interrupts stay masked
 * (PSTATE.I): a pending, enabled SGI ends wfi without a trap, and the
 * waker acknowledges it. Without a GICv3 (GICv2, none in the DT, no system
 * register interface) cores wait with wfe and are woken by sev, which
 * QEMU's TCG runs as a busy yield: 64 idle cores then starve the busy ones
 * of two host CPUs.
 *
 * Registers as Linux's drivers/irqchip/irq-gic-v3.c uses them; the Arm
 * GICv3/v4 architecture specification (IHI 0069) for their meaning.
 */
#include <asm/sysreg.h>
#include <kernel/boot.h>
#include <mm/dt.h>
#include <kernel/hart.h>
#include <mm/harts.h>
#include <kernel/kmap.h>
#include <kernel/mmio.h>
#include <kernel/printk.h>
#include <libfdt.h>

#include "platform.h"

#define GICD_CTLR 0x0
#define GICD_CTLR_RWP (1u << 31)
#define GICD_CTLR_ARE (1u << 4)	 /* ARE_NS: affinity routing */
#define GICD_CTLR_ENABLE 0x13u	 /* ARE_NS, EnableGrp1A, EnableGrp1 (Linux's value) */

#define GICR_WAKER 0x14
#define GICR_WAKER_PROCESSOR_SLEEP (1u << 1)
#define GICR_WAKER_CHILDREN_ASLEEP (1u << 2)
#define GICR_TYPER 0x8		 /* low word: Last, VLPIS; high word: the core's affinity */
#define GICR_TYPER_VLPIS (1u << 1)
#define GICR_TYPER_LAST (1u << 4)
#define GICR_SGI_FRAME 0x10000	 /* the second 64 KiB frame: SGIs and PPIs */
#define GICR_IGROUPR0 0x80
#define GICR_ISENABLER0 0x100
#define GICR_IPRIORITYR 0x400

#define WAKE_SGI 0 /* the one SGI we use */
#define MAX_RD_REGIONS 8

/* System registers by encoding: not every assembler knows their names. */
#define ICC_SRE_EL1 "S3_0_C12_C12_5"
#define ICC_PMR_EL1 "S3_0_C4_C6_0"
#define ICC_IGRPEN1_EL1 "S3_0_C12_C12_7"
#define ICC_SGI1R_EL1 "S3_0_C12_C11_5"
#define ICC_IAR1_EL1 "S3_0_C12_C12_0"
#define ICC_EOIR1_EL1 "S3_0_C12_C12_1"

static struct {
	bool on; /* found, mapped, and the boot core's interface took it */
	uintptr_t dist;
	unsigned int nr_regions;
	struct {
		uintptr_t base;
		uint64_t size;
	} rd[MAX_RD_REGIONS];
	uint64_t stride; /* 0: each redistributor says (128 or 256 KiB) */
} gic;

/* Each core whose redistributor and interface are set up: only those sleep in wfi. */
static bool hart_ready[MAX_HARTS];

/* Bounded waits: a GIC that never settles leaves the core on wfe, not hung. */
static bool wait_clear(uintptr_t reg, uint32_t mask)
{
	for (unsigned long spins = 0; spins < 10000000; spins++)
		if (!(mmio_read32(reg) & mask))
			return true;
	return false;
}

/* The redistributor whose GICR_TYPER names this core's affinity, or 0. */
static uintptr_t my_redistributor(void)
{
	unsigned long mpidr = read_sysreg(mpidr_el1);
	uint32_t aff = (uint32_t)(((mpidr >> 32) & 0xff) << 24 | (mpidr & 0xffffff));

	for (unsigned int r = 0; r < gic.nr_regions; r++) {
		for (uint64_t off = 0; off + 2 * GICR_SGI_FRAME <= gic.rd[r].size;) {
			uintptr_t rd = gic.rd[r].base + off;
			uint32_t lo = mmio_read32(rd + GICR_TYPER);

			if (mmio_read32(rd + GICR_TYPER + 4) == aff)
				return rd;
			if (lo & GICR_TYPER_LAST)
				break;
			off += gic.stride ? gic.stride : (lo & GICR_TYPER_VLPIS) ? 0x40000 : 0x20000;
		}
	}
	return 0;
}

static bool sysreg_interface(void)
{
	unsigned long sre;

	if (!((read_sysreg(id_aa64pfr0_el1) >> 24) & 0xf))
		return false; /* no GIC system registers on this core */
	__asm__ volatile("mrs %0, " ICC_SRE_EL1 : "=r"(sre));
	__asm__ volatile("msr " ICC_SRE_EL1 ", %0\n\tisb" ::"r"(sre | 1));
	__asm__ volatile("mrs %0, " ICC_SRE_EL1 : "=r"(sre));
	return sre & 1; /* EL2 may not let EL1 have it */
}

/* This core: its redistributor awake with the SGI enabled, its CPU interface on. */
static bool hart_init(void)
{
	uintptr_t rd = my_redistributor(), sgi;

	if (!rd || !sysreg_interface())
		return false;
	mmio_write32(rd + GICR_WAKER, mmio_read32(rd + GICR_WAKER) & ~GICR_WAKER_PROCESSOR_SLEEP);
	if (!wait_clear(rd + GICR_WAKER, GICR_WAKER_CHILDREN_ASLEEP))
		return false;
	sgi = rd + GICR_SGI_FRAME;
	mmio_write32(sgi + GICR_IGROUPR0, mmio_read32(sgi + GICR_IGROUPR0) | 1u << WAKE_SGI);
	mmio_write8(sgi + GICR_IPRIORITYR + WAKE_SGI, 0x80);
	mmio_write32(sgi + GICR_ISENABLER0, 1u << WAKE_SGI);
	__asm__ volatile("msr " ICC_PMR_EL1 ", %0" ::"r"(0xffUL));
	__asm__ volatile("msr " ICC_IGRPEN1_EL1 ", %0\n\tisb" ::"r"(1UL));
	return true;
}

/* The boot core, once kmap is up: find the GIC in the DT and map it. */
static void gic_probe(const void *fdt)
{
	int node = fdt_node_offset_by_compatible(fdt, -1, "arm,gic-v3"), len;
	const fdt32_t *p;
	uint32_t nr = 1;
	uint64_t base, size;
	struct dt_error err;

	if (node < 0 || !dt_node_is_available(fdt, node))
		return;
	p = fdt_getprop(fdt, node, "#redistributor-regions", &len);
	if (p && len == 4)
		nr = fdt32_to_cpu(*p);
	p = fdt_getprop(fdt, node, "redistributor-stride", &len);
	gic.stride = p && len == 8 ? dt_read_number(p, 2) : 0;
	if (nr == 0 || nr > MAX_RD_REGIONS || dt_reg(fdt, node, 0, &base, &size, &err) < 0 ||
	    !(gic.dist = (uintptr_t)ioremap(base, size))) {
		printk("gic: GICv3 left alone: %u redistributor regions, or its registers unusable\n",
		       nr);
		return;
	}
	for (uint32_t r = 0; r < nr; r++) {
		if (dt_reg(fdt, node, (int)r + 1, &base, &size, &err) < 0 ||
		    !(gic.rd[r].base = (uintptr_t)ioremap(base, size))) {
			printk("gic: GICv3 left alone: redistributor region %u unusable\n", r);
			return;
		}
		gic.rd[r].size = size;
	}
	gic.nr_regions = nr;
	/* as Linux: affinity routing turned on with the groups off, then the groups */
	if (!(mmio_read32(gic.dist + GICD_CTLR) & GICD_CTLR_ARE)) {
		mmio_write32(gic.dist + GICD_CTLR, 0);
		wait_clear(gic.dist + GICD_CTLR, GICD_CTLR_RWP);
		mmio_write32(gic.dist + GICD_CTLR, GICD_CTLR_ARE);
		wait_clear(gic.dist + GICD_CTLR, GICD_CTLR_RWP);
	}
	mmio_write32(gic.dist + GICD_CTLR, mmio_read32(gic.dist + GICD_CTLR) | GICD_CTLR_ENABLE);
	wait_clear(gic.dist + GICD_CTLR, GICD_CTLR_RWP);
	gic.on = hart_ready[0] = hart_init();
	printk("gic: GICv3, %u redistributor region(s): idle harts %s\n", nr,
	       gic.on ? "sleep in wfi, woken by SGI 0" : "wait with wfe (no interface for us)");
}

void gic_hart_up(void)
{
	if (this_hart_index() == 0) {
		gic_probe(boot_info.fdt);
		return;
	}
	if (!gic.on || this_hart_index() >= MAX_HARTS)
		return;
	hart_ready[this_hart_index()] = hart_init();
	if (!hart_ready[this_hart_index()])
		printk("gic: hart %u: no redistributor or interface of its own: it waits with wfe\n",
		       this_hart_index());
}

bool gic_kick(uint64_t mpidr)
{
	uint64_t aff0 = mpidr & 0xff;

	if (!gic.on)
		return false;
	__asm__ volatile("dsb ish" ::: "memory"); /* what it is woken for, seen first */
	__asm__ volatile("msr " ICC_SGI1R_EL1 ", %0\n\tisb" ::"r"(
		(mpidr >> 32 & 0xff) << 48 | (mpidr >> 16 & 0xff) << 32 | (mpidr >> 8 & 0xff) << 16 |
		(aff0 >> 4) << 44 | (uint64_t)WAKE_SGI << 24 | 1ULL << (aff0 & 0xf)));
	return true;
}

bool gic_idle(void)
{
	unsigned long iar;

	if (!hart_ready[this_hart_index()])
		return false;
	__asm__ volatile("wfi" ::: "memory");
	__asm__ volatile("mrs %0, " ICC_IAR1_EL1 : "=r"(iar));
	if ((iar & 0xffffff) < 1020) /* 1020-1023: nothing pending */
		__asm__ volatile("msr " ICC_EOIR1_EL1 ", %0\n\tisb" ::"r"(iar));
	return true;
}
