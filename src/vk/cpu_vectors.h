/* lavapipe's SIMD width. llvmpipe reads LP_NATIVE_VECTOR_WIDTH once, as the Vulkan loader
 * starts the driver, so the width is chosen before the loader is opened. */
#ifndef VKQ_VK_CPU_VECTORS_H
#define VKQ_VK_CPU_VECTORS_H

#include <stddef.h>

/* Leaves a width the user set alone; otherwise asks for 512-bit vectors on a CPU with AVX-512
 * where lavapipe's Mesa is one whose subgroups of 16 ran the cpu kernels faster than its
 * default 8. The Mesa version is learnt from a child process that starts lavapipe, as this
 * process must not start it before choosing. */
void vkq_choose_cpu_vectors(void);

/* What was chosen and why, one phrase for `vkquill devices`. */
void vkq_cpu_vectors_reason(char *out, size_t size);

#endif
