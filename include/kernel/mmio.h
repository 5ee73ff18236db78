/* SPDX-License-Identifier: MIT */
#ifndef KERNEL_MMIO_H
#define KERNEL_MMIO_H

#include <asm/barrier.h>
#include <kernel/types.h>

/* Device register access: volatile, with the arch's I/O ordering barriers. */
static inline uint8_t mmio_read8(uintptr_t a)
{
	uint8_t v = *(volatile uint8_t *)a;
	io_rmb();
	return v;
}

static inline uint32_t mmio_read32(uintptr_t a)
{
	uint32_t v = *(volatile uint32_t *)a;
	io_rmb();
	return v;
}

static inline void mmio_write8(uintptr_t a, uint8_t v)
{
	io_wmb();
	*(volatile uint8_t *)a = v;
}

static inline void mmio_write16(uintptr_t a, uint16_t v)
{
	io_wmb();
	*(volatile uint16_t *)a = v;
}

static inline void mmio_write32(uintptr_t a, uint32_t v)
{
	io_wmb();
	*(volatile uint32_t *)a = v;
}

#endif
