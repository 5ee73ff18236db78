/* SPDX-License-Identifier: MIT */
/*
 * The kernel image layout, shared by both architectures' linker scripts.
 * Linked at its virtual address, CONFIG_KERNEL_LINK_ADDR: head.S maps it
 * there before any C runs, so nothing is relocated. Each part the final
 * page tables protect differently starts on a page: text (read+execute),
 * rodata (read-only), data and bss (read+write).
 */
ENTRY(_start)

SECTIONS
{
	. = CONFIG_KERNEL_LINK_ADDR;

	/*
	 * The boot image header's image_size is written here by the linker:
	 * the file would hold 0 otherwise, which U-Boot's booti refuses.
	 */
	.head.text : {
		_stext = .;
		KEEP(*(.head.text))
		QUAD(_end - _start)
		KEEP(*(.head.text.rest))
	}
	.text : {
		*(.text .text.*)
	}
	. = ALIGN(4096);
	_etext = .;

	.rodata : {
		__ex_table_start = .;
		KEEP(*(__ex_table))
		__ex_table_end = .;
		*(.rodata .rodata.* .srodata .srodata.*)
	}
	. = ALIGN(4096);
	_erodata = .;

	.data : {
		_sdata = .;
		*(.data .data.* .sdata .sdata.*)
		*(.got .got.*)
	}
	_edata = .;

	.bss (NOLOAD) : ALIGN(16) {
		__bss_start = .;
		*(.bss .bss.* .sbss .sbss.* COMMON)
		. = ALIGN(16);
		__bss_end = .;
	}
	/* head.S's boot page tables: live while bss is cleared, so not in it */
	.boot_pt (NOLOAD) : ALIGN(4096) {
		*(.boot_pt)
	}
	. = ALIGN(4096);
	_end = .;

	/DISCARD/ : {
		*(.interp .dynamic .dynsym .dynstr .hash .gnu.hash)
		*(.comment .note .note.* .eh_frame .eh_frame_hdr)
	}
}

/* head.S maps the image with one table of 4 KiB pages, so it fits in 2 MiB. */
ASSERT((CONFIG_KERNEL_LINK_ADDR & 0x1fffff) == 0, "CONFIG_KERNEL_LINK_ADDR must be 2 MiB aligned")
ASSERT(_end - _start <= BOOT_IMAGE_TABLES * 0x200000,
       "the kernel image outgrew the BOOT_IMAGE_TABLES 2 MiB blocks head.S maps")
