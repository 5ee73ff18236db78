/* SPDX-License-Identifier: MIT */
#ifndef TESTS_HOST_DTB_LOAD_H
#define TESTS_HOST_DTB_LOAD_H

/*
 * Test fixtures: tests/dts/NAME.dts is compiled to $DTB_DIR/NAME.dtb
 * (DTB_DIR defaults to build/host/dtb). Every buffer handed out here is
 * malloc'd to exactly the bytes it holds, so ASan catches any read past it.
 */

#include <stddef.h>

/* NAME.dtb into an exactly-sized buffer (free() it), or NULL with a message on stderr. */
void *dtb_load(const char *name, size_t *size);

/* A copy of n bytes of blob in an exactly-sized buffer of n bytes. */
void *dtb_copy(const void *blob, size_t n);

/*
 * A copy of a loaded blob opened for editing with libfdt's fdt_rw calls
 * (room: extra spare bytes); dtb_pack() packs it and returns an exactly-sized
 * copy, freeing the editable one.
 */
void *dtb_edit(const void *blob, size_t extra);
void *dtb_pack(void *edit, size_t *size);

/*
 * NAME.dtb with edit applied (room: extra spare bytes), packed into an
 * exactly-sized buffer; NULL when loading or the edit failed.
 */
void *dtb_load_edited(const char *name, size_t extra, int (*edit)(void *fdt), size_t *size);

#endif
