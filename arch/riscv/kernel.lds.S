OUTPUT_ARCH(riscv)
#include <kernel/image.lds.h>
