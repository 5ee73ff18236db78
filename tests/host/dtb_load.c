// SPDX-License-Identifier: MIT
/* Loading test device trees into exactly-sized buffers (see dtb_load.h). */
#include "dtb_load.h"

#include <libfdt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *dtb_copy(const void *blob, size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p)
		memcpy(p, blob, n);
	return p;
}

void *dtb_load(const char *name, size_t *size)
{
	const char *dir = getenv("DTB_DIR");
	char path[512];
	void *buf = NULL;
	long len;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.dtb", dir && *dir ? dir : "build/host/dtb", name);
	f = fopen(path, "rb");
	if (!f) {
		perror(path);
		return NULL;
	}
	if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc(len)) && fread(buf, 1, len, f) == (size_t)len) {
		*size = len;
	} else {
		fprintf(stderr, "%s: cannot read\n", path);
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

void *dtb_edit(const void *blob, size_t extra)
{
	int size = fdt_totalsize(blob) + (int)extra;
	void *p = malloc(size);

	if (p && fdt_open_into(blob, p, size) < 0) {
		free(p);
		p = NULL;
	}
	return p;
}

void *dtb_pack(void *edit, size_t *size)
{
	void *out = NULL;

	if (edit && fdt_pack(edit) == 0) {
		*size = fdt_totalsize(edit);
		out = dtb_copy(edit, *size);
	}
	free(edit);
	return out;
}

void *dtb_load_edited(const char *name, size_t extra, int (*edit)(void *fdt), size_t *size)
{
	void *blob = dtb_load(name, size);
	void *ed = blob ? dtb_edit(blob, extra) : NULL;

	free(blob);
	if (!ed || edit(ed) != 0) {
		free(ed);
		return NULL;
	}
	return dtb_pack(ed, size);
}
