/* Neural-network kernels for Llama-family models, forward and backward, fp32.
 * Tensors are row-major [rows][dim]. Backward kernels ADD into every gradient they write
 * (parameter and input gradients alike), so callers zero gradients once per step and
 * gradient accumulation needs nothing more. */
#ifndef VKQUILL_NN_H
#define VKQUILL_NN_H

#include "vkquill/runtime.h"

/* y = x * rstd * w, rstd[r] = 1 / sqrt(mean(x[r]^2) + eps); rstd is kept for the backward. */
vkq_status vkq_rmsnorm_forward(vkq_rec *rec, vkq_buf x, vkq_buf w, vkq_buf y, vkq_buf rstd,
                               uint32_t rows, uint32_t dim, float eps);
/* dx += d(y)/dx^T dy; dw += sum over rows of dy * x * rstd. */
vkq_status vkq_rmsnorm_backward(vkq_rec *rec, vkq_buf dy, vkq_buf x, vkq_buf w, vkq_buf rstd,
                                vkq_buf dx, vkq_buf dw, uint32_t rows, uint32_t dim);

#endif
