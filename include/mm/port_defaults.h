/* SPDX-License-Identifier: MIT */
#ifndef MM_PORT_DEFAULTS_H
#define MM_PORT_DEFAULTS_H

/*
 * The helpers and errno values mm/ uses, each defined only where the
 * including code has none of its own (include/mm/port.h includes this
 * after the port's <mm_port.h>). This kernel's <kernel/compiler.h> and
 * <kernel/errno.h> are these too.
 */

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#endif
/* a must be a power of two */
#ifndef ALIGN_DOWN
#define ALIGN_DOWN(x, a) ((x) & ~((__typeof__(x))(a) - 1))
#endif
#ifndef ALIGN_UP
#define ALIGN_UP(x, a) ALIGN_DOWN((x) + ((__typeof__(x))(a) - 1), (a))
#endif
#ifndef IS_ALIGNED
#define IS_ALIGNED(x, a) (((x) & ((__typeof__(x))(a) - 1)) == 0)
#endif
#ifndef IS_POWER_OF_2
#define IS_POWER_OF_2(x) ((x) != 0 && ((x) & ((x) - 1)) == 0)
#endif
#ifndef MIN
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#endif
#ifndef MAX
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#endif
#ifndef __printf
#define __printf(f, a) __attribute__((format(printf, f, a)))
#endif
#ifndef __noreturn
#define __noreturn __attribute__((noreturn))
#endif
#ifndef __unused
#define __unused __attribute__((unused))
#endif
#ifndef __aligned
#define __aligned(n) __attribute__((aligned(n)))
#endif
#ifndef likely
#define likely(x) __builtin_expect(!!(x), 1)
#endif
#ifndef unlikely
#define unlikely(x) __builtin_expect(!!(x), 0)
#endif
#ifndef SZ_4K
#define SZ_4K 0x1000ULL
#endif
#ifndef SZ_2M
#define SZ_2M 0x200000ULL
#endif
#ifndef SZ_1G
#define SZ_1G 0x40000000ULL
#endif
#ifndef PAGE_SIZE
#define PAGE_SIZE SZ_4K
#endif

#ifndef ENOENT
#define ENOENT 2
#endif
#ifndef EIO
#define EIO 5
#endif
#ifndef E2BIG
#define E2BIG 7
#endif
#ifndef ENOMEM
#define ENOMEM 12
#endif
#ifndef EFAULT
#define EFAULT 14
#endif
#ifndef EBUSY
#define EBUSY 16
#endif
#ifndef EEXIST
#define EEXIST 17
#endif
#ifndef ENODEV
#define ENODEV 19
#endif
#ifndef EINVAL
#define EINVAL 22
#endif
#ifndef ENOSPC
#define ENOSPC 28
#endif
#ifndef ERANGE
#define ERANGE 34
#endif
#ifndef EOVERFLOW
#define EOVERFLOW 75
#endif

#endif
