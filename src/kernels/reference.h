/* Plain C references of every kernel: what the kernel checks compare against. */
#ifndef VKQ_KERNELS_REFERENCE_H
#define VKQ_KERNELS_REFERENCE_H

#include <stddef.h>

#include "vkquill/kernels.h"
#include "vkquill/nn.h"

void vkq_ref_matmul(const vkq_matmul_args *args, const float *a, const float *b, float *c);
void vkq_ref_add(const float *a, const float *b, float *out, uint32_t n);
void vkq_ref_scale(const float *x, float *out, float s, uint32_t n);
void vkq_ref_axpy(float alpha, const float *x, float *y, uint32_t n);
void vkq_ref_copy(const float *src, float *dst, uint32_t n);
void vkq_ref_fill(float *dst, float value, uint32_t n);
float vkq_ref_sum(const float *x, uint32_t n);
float vkq_ref_sumsq(const float *x, uint32_t n);

/* References of include/vkquill/nn.h; backward references add into their outputs too. */
void vkq_ref_rmsnorm_forward(const float *x, const float *w, float *y, float *rstd, uint32_t rows,
                             uint32_t dim, float eps);
void vkq_ref_rmsnorm_backward(const float *dy, const float *x, const float *w, const float *rstd,
                              float *dx, float *dw, uint32_t rows, uint32_t dim);

#endif
