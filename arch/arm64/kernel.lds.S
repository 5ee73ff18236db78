OUTPUT_ARCH(aarch64)
#include <asm/layout.h>
#include <kernel/image.lds.h>
