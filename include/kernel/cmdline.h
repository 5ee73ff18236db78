/* SPDX-License-Identifier: MIT */
#ifndef KERNEL_CMDLINE_H
#define KERNEL_CMDLINE_H

#include <kernel/types.h>

/* Takes /chosen/bootargs, or the configured default command line when the DT has none. */
void cmdline_init(const void *fdt);
const char *cmdline(void);

/*
 * Finds "key=value" among the space-separated words of line and copies the
 * value into buf. false when the key is absent or the value does not fit.
 */
bool cmdline_find(const char *line, const char *key, char *buf, size_t len);

/* Is key on the line, as a bare word or as key=value? */
bool cmdline_has(const char *line, const char *key);

/* Parses "123", "0x1f", "128M", "5G" (K/M/G/T suffixes, powers of 1024). */
bool parse_size(const char *s, uint64_t *out);

/* The two above on the kernel's own command line. */
bool cmdline_get(const char *key, char *buf, size_t len);
bool cmdline_get_size(const char *key, uint64_t *out);

#endif
