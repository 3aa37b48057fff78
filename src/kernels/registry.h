/* Every compute kernel vkquill has, by shader name (shaders/<name>.comp). */
#ifndef VKQ_KERNELS_REGISTRY_H
#define VKQ_KERNELS_REGISTRY_H

#include "vk/vk_internal.h"

#define VKQ_KERNEL_LIST(X) \
    X(matmul_pack)         \
    X(matmul_cpu)          \
    X(matmul_gpu)          \
    X(elementwise)         \
    X(elementwise_cpu)     \
    X(reduce)              \
    X(reduce_cpu)          \
    X(rmsnorm)             \
    X(rmsnorm_cpu)         \
    X(attention_pack)         \
    X(attention_stats)        \
    X(attention_forward_cpu)  \
    X(attention_forward_gpu)  \
    X(attention_backward_cpu) \
    X(attention_backward_gpu) \
    X(attention_decode)       \
    X(attention_decode_cpu)   \
    X(embedding)           \
    X(rope)                \
    X(rope_cpu)            \
    X(bias)                \
    X(dropout)             \
    X(swiglu)              \
    X(swiglu_cpu)          \
    X(rows)                \
    X(cross_entropy)       \
    X(adamw)               \
    X(adamw_cpu)           \
    X(causal_loss)

#define VKQ_DECLARE_KERNEL(name) extern const vkq_kernel_desc vkq_kernel_##name;
VKQ_KERNEL_LIST(VKQ_DECLARE_KERNEL)
#undef VKQ_DECLARE_KERNEL

extern const vkq_kernel_desc *const vkq_all_kernels[];
extern const unsigned vkq_kernel_count;

/* Workgroup counts for n invocations in groups of `local`, spilling into y past 65535. */
void vkq_grid_1d(uint64_t n, uint32_t local, uint32_t groups[3]);

#endif
