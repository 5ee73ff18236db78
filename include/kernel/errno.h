/* SPDX-License-Identifier: MIT */
#ifndef KERNEL_ERRNO_H
#define KERNEL_ERRNO_H

/* Kernel functions return 0 or one of mm/'s errno values, negated. */
#include <mm/port_defaults.h>

#endif
