// SPDX-License-Identifier: MIT
/* The kernel command line: where it comes from and how its words are read. */
#include <kernel/cmdline.h>
#include <kernel/compiler.h>
#include <libfdt.h>
#include <string.h>

#ifndef CONFIG_CMDLINE
#define CONFIG_CMDLINE ""
#endif

static char boot_cmdline[512];

void cmdline_init(const void *fdt)
{
	int node = fdt_path_offset(fdt, "/chosen");
	int len = 0;
	const char *args = node >= 0 ? fdt_getprop(fdt, node, "bootargs", &len) : NULL;

	/* The property must be a terminated string inside its own length. */
	if (!args || len <= 0 || strnlen(args, (size_t)len) == (size_t)len || !args[0])
		args = CONFIG_CMDLINE;
	size_t n = MIN(strlen(args), sizeof(boot_cmdline) - 1);
	memcpy(boot_cmdline, args, n);
	boot_cmdline[n] = '\0';
}

const char *cmdline(void)
{
	return boot_cmdline;
}

/* The next space-separated word of *p, or NULL at the end. */
static const char *next_word(const char **p, size_t *len)
{
	const char *w = *p;

	while (*w == ' ')
		w++;
	if (!*w)
		return NULL;
	*p = w;
	while (**p && **p != ' ')
		(*p)++;
	*len = (size_t)(*p - w);
	return w;
}

bool cmdline_find(const char *line, const char *key, char *buf, size_t len)
{
	size_t klen = strlen(key), wlen;
	const char *word;

	while ((word = next_word(&line, &wlen))) {
		if (wlen > klen && strncmp(word, key, klen) == 0 && word[klen] == '=') {
			size_t vlen = wlen - klen - 1;
			if (vlen >= len)
				return false;
			memcpy(buf, word + klen + 1, vlen);
			buf[vlen] = '\0';
			return true;
		}
	}
	return false;
}

bool cmdline_has(const char *line, const char *key)
{
	size_t klen = strlen(key), wlen;
	const char *word;

	while ((word = next_word(&line, &wlen))) {
		if (wlen >= klen && strncmp(word, key, klen) == 0 &&
		    (wlen == klen || word[klen] == '='))
			return true;
	}
	return false;
}

static int digit_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return 99;
}

bool parse_size(const char *s, uint64_t *out)
{
	unsigned int base = 10, shift = 0;
	uint64_t v = 0;
	const char *p = s, *digits;

	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
	}
	for (digits = p; *p; p++) {
		int d = digit_value(*p);
		if (d >= (int)base)
			break;
		if (v > (UINT64_MAX - (uint64_t)d) / base)
			return false;
		v = v * base + (uint64_t)d;
	}
	if (p == digits)
		return false;
	switch (*p) {
	case 'K': case 'k': shift = 10; p++; break;
	case 'M': case 'm': shift = 20; p++; break;
	case 'G': case 'g': shift = 30; p++; break;
	case 'T': case 't': shift = 40; p++; break;
	}
	if (*p || (shift && v > (UINT64_MAX >> shift)))
		return false;
	*out = v << shift;
	return true;
}

bool cmdline_get(const char *key, char *buf, size_t len)
{
	return cmdline_find(boot_cmdline, key, buf, len);
}

bool cmdline_get_size(const char *key, uint64_t *out)
{
	char buf[32];

	return cmdline_get(key, buf, sizeof(buf)) && parse_size(buf, out);
}
