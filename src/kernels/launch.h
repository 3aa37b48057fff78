/* What every kernel launcher uses: the kernel registry, dispatch, and argument checks. */
#ifndef VKQ_KERNELS_LAUNCH_H
#define VKQ_KERNELS_LAUNCH_H

#include "kernels/registry.h"

/* Fails unless buf holds at least n floats (and fits 32-bit shader indexing). */
vkq_status vkq_need_floats(const char *op, const char *name, vkq_buf buf, uint64_t n);

#endif
