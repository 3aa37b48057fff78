/* lavapipe's SIMD width. llvmpipe reads LP_NATIVE_VECTOR_WIDTH once, as the Vulkan loader
 * starts the driver, so the width is chosen before the loader is opened. */
#ifndef VKQ_VK_CPU_VECTORS_H
#define VKQ_VK_CPU_VECTORS_H

#include <stddef.h>

/* Leaves a width the user set alone; otherwise asks for 512-bit vectors on a CPU with
 * AVX-512, where lavapipe's subgroups of 16 run matrix products faster than its default 8. */
void vkq_choose_cpu_vectors(void);

/* What was chosen and why, one phrase for `vkquill devices`. */
void vkq_cpu_vectors_reason(char *out, size_t size);

#endif
