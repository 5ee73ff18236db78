/* SPDX-License-Identifier: MIT */
/*
 * The kernel image layout, shared by both architectures' linker scripts.
 * Linked as a position-independent executable at CONFIG_KERNEL_LINK_ADDR;
 * the entry code applies .rela.dyn itself, so only relative relocations may
 * appear (scripts/check-relocs.sh enforces it).
 */
ENTRY(_start)

SECTIONS
{
	. = CONFIG_KERNEL_LINK_ADDR;

	/*
	 * The boot image header's image_size is written here by the linker: a
	 * symbol in head.S would become a dynamic relocation in a PIE, and the
	 * file would hold 0 there, which U-Boot's booti refuses.
	 */
	.head.text : {
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
		*(.rodata .rodata.* .srodata .srodata.*)
	}
	.rela.dyn : ALIGN(8) {
		__rela_start = .;
		*(.rela .rela.*)
		__rela_end = .;
	}
	. = ALIGN(4096);

	.data : {
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
	. = ALIGN(4096);
	_end = .;

	/* The dynamic-linking tables -pie makes: the entry code needs none of them. */
	/DISCARD/ : {
		*(.interp .dynamic .dynsym .dynstr .hash .gnu.hash)
		*(.comment .note .note.* .eh_frame .eh_frame_hdr)
	}
}
