/* SPDX-License-Identifier: MIT */
#ifndef LIBFDT_ENV_H
#define LIBFDT_ENV_H

/*
 * Our environment for libfdt (whose sources come from Debian's linux-source
 * package at build time). In the kernel build <string.h> and <limits.h> are
 * our own freestanding ones from include/libc; on the host, the C library's.
 */

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef uint16_t fdt16_t;
typedef uint32_t fdt32_t;
typedef uint64_t fdt64_t;

/* Big-endian conversions done bytewise so they never need an aligned load. */
static inline uint16_t fdt16_to_cpu(fdt16_t x)
{
	const uint8_t *b = (const uint8_t *)&x;
	return (uint16_t)((b[0] << 8) | b[1]);
}

static inline uint32_t fdt32_to_cpu(fdt32_t x)
{
	const uint8_t *b = (const uint8_t *)&x;
	return ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | b[3];
}

static inline uint64_t fdt64_to_cpu(fdt64_t x)
{
	const uint8_t *b = (const uint8_t *)&x;
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = (v << 8) | b[i];
	return v;
}

/* The conversion is its own inverse. */
#define cpu_to_fdt16(x) ((fdt16_t)fdt16_to_cpu(x))
#define cpu_to_fdt32(x) ((fdt32_t)fdt32_to_cpu(x))
#define cpu_to_fdt64(x) ((fdt64_t)fdt64_to_cpu(x))

#endif
