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

/* out[t] = table[tokens[t]] for int32 token ids; an id outside [0, vocab) gives a row of zeros. */
vkq_status vkq_embedding_forward(vkq_rec *rec, vkq_buf table /* [vocab][dim] */,
                                 vkq_buf tokens /* int32 [n] */, vkq_buf out /* [n][dim] */,
                                 uint32_t n, uint32_t dim, uint32_t vocab);
/* A batch's positions grouped by token id, built once per batch on the host so that the
 * backward is a deterministic scatter-add. Groups ascend by token id. */
typedef struct vkq_embedding_index {
    int32_t *positions;   /* [n]: positions of each group in turn, ascending within a group */
    int32_t *group_start; /* [groups + 1]: group g spans positions[start[g] .. start[g+1]) */
    int32_t *group_token; /* [groups]: the token id of each group */
    uint32_t groups;
} vkq_embedding_index;
/* Refuses a token id outside [0, vocab). Free the index with vkq_embedding_index_free. */
vkq_status vkq_embedding_index_build(const int32_t *tokens, uint32_t n, uint32_t vocab,
                                     vkq_embedding_index *out);
void vkq_embedding_index_free(vkq_embedding_index *ix);
/* dtable[token] += sum of dout over the token's positions; the int32 buffers hold the index. */
vkq_status vkq_embedding_backward(vkq_rec *rec, vkq_buf dout, vkq_buf positions,
                                  vkq_buf group_start, vkq_buf group_token, uint32_t groups,
                                  vkq_buf dtable, uint32_t n, uint32_t dim);

/* Rotary embedding, llama2.c layout, in place on x [n][heads * head_dim]: each head's pairs
 * (x[2i], x[2i+1]) turn by pos * theta^(-2i / head_dim) with pos = t - starts[t], where the
 * int32 starts[t] is the first token of token t's sequence in a packed batch. */
vkq_status vkq_rope_forward(vkq_rec *rec, vkq_buf x, vkq_buf starts, uint32_t n, uint32_t heads,
                            uint32_t head_dim, float theta);
/* Unlike the other backward kernels this one does not add: it turns the gradient in place,
 * dx = R^T dx, since the rotation maps the gradient through without another input. */
vkq_status vkq_rope_backward(vkq_rec *rec, vkq_buf dx, vkq_buf starts, uint32_t n, uint32_t heads,
                             uint32_t head_dim, float theta);

/* out = silu(a) * b element-wise, silu(a) = a / (1 + exp(-a)). */
vkq_status vkq_swiglu_forward(vkq_rec *rec, vkq_buf a, vkq_buf b, vkq_buf out, uint32_t n);
/* da += dout * b * silu'(a); db += dout * silu(a). */
vkq_status vkq_swiglu_backward(vkq_rec *rec, vkq_buf dout, vkq_buf a, vkq_buf b, vkq_buf da,
                               vkq_buf db, uint32_t n);

#endif
