OUTPUT_ARCH(aarch64)
#include <kernel/image.lds.h>
