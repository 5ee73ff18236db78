OUTPUT_ARCH(riscv)
#include <asm/layout.h>
#include <kernel/image.lds.h>
