/* Plain C references of every kernel: what the kernel checks compare against. */
#ifndef VKQ_KERNELS_REFERENCE_H
#define VKQ_KERNELS_REFERENCE_H

#include <stddef.h>

#include "vkquill/causal_loss.h"
#include "vkquill/kernels.h"
#include "vkquill/nn.h"

/* a and b hold elements of args->type_a and args->type_b (vkquill/dtype.h). */
void vkq_ref_matmul(const vkq_matmul_args *args, const void *a, const void *b, float *c);
/* Element i of an array of type t. */
float vkq_ref_element(vkq_dtype t, const void *x, uint64_t i);
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

int vkq_ref_dropout_keep(uint32_t key, uint32_t i, float p);
void vkq_ref_dropout_forward(const float *x, float *out, uint32_t n, float p, uint32_t key);
void vkq_ref_dropout_backward(const float *dout, float *dx, uint32_t n, float p, uint32_t key);

/* table holds elements of type t. */
void vkq_ref_embedding_forward(vkq_dtype t, const void *table, const int32_t *tokens, float *out,
                               uint32_t n, uint32_t dim, uint32_t vocab);
/* A plain scatter-add over the tokens: no index needed. */
void vkq_ref_embedding_backward(const float *dout, const int32_t *tokens, float *dtable,
                                uint32_t n, uint32_t dim);
void vkq_ref_rope_forward(float *x, const int32_t *positions, const float *inv_freq, uint32_t n,
                          uint32_t heads, uint32_t head_dim, vkq_rope_pairs pairs);
void vkq_ref_rope_backward(float *dx, const int32_t *positions, const float *inv_freq,
                           uint32_t n, uint32_t heads, uint32_t head_dim, vkq_rope_pairs pairs);
void vkq_ref_bias_forward(float *y, const float *b, uint32_t rows, uint32_t dim);
void vkq_ref_bias_backward(const float *dy, float *db, uint32_t rows, uint32_t dim);
void vkq_ref_swiglu_forward(const float *a, const float *b, float *out, uint32_t n);
void vkq_ref_swiglu_backward(const float *dout, const float *a, const float *b, float *da,
                             float *db, uint32_t n);

void vkq_ref_gather_rows(const float *src, const int32_t *rows, float *dst, uint32_t count,
                         uint32_t dim, uint32_t n);
void vkq_ref_scatter_add_rows(const float *src, const int32_t *rows, float *dst, uint32_t count,
                              uint32_t dim, uint32_t n);
void vkq_ref_copy_rows(const float *src, const int32_t *rows, float *dst, uint32_t count,
                       uint32_t dim, uint32_t n);
void vkq_ref_copy_columns(const float *src, uint32_t src_width, uint32_t src_at, float *dst,
                          uint32_t dst_width, uint32_t dst_at, uint32_t rows, uint32_t cols);
/* dlogits NULL: no gradient. */
void vkq_ref_cross_entropy(const float *logits, const int32_t *targets, const float *weights,
                           float *losses, float *dlogits, uint32_t rows, uint32_t vocab);
void vkq_ref_adamw(float *params, const float *grads, float *m, float *v,
                   const vkq_adamw_hyper *h, double grad_sumsq, uint32_t n);

void vkq_ref_attention_forward(const float *q, const float *k, const float *v,
                               const int32_t *starts, float *out, float *lse, uint32_t n,
                               uint32_t heads, uint32_t kv_heads, uint32_t head_dim);
void vkq_ref_attention_backward(const float *dout, const float *q, const float *k, const float *v,
                                const int32_t *starts, const float *out, const float *lse,
                                float *dq, float *dk, float *dv, uint32_t n, uint32_t heads,
                                uint32_t kv_heads, uint32_t head_dim);
void vkq_ref_attention_decode(const float *q, const float *k_cache, const float *v_cache,
                              const int32_t *bases, const int32_t *lengths, float *out,
                              uint32_t n, uint32_t heads, uint32_t kv_heads, uint32_t head_dim);

/* References of include/vkquill/causal_loss.h: dlogits [2R][V] is written, not added; dce and
 * ref_logits may be NULL where the arguments do not use them. */
void vkq_ref_causal_loss(const vkq_causal_loss_args *a, const float *logits,
                         const int32_t *targets, const float *dce, const float *ref_logits,
                         float *stats, float *totals, float *dlogits);
void vkq_ref_causal_dce(const float *ref_logits, const int32_t *targets, float *dce,
                        uint32_t rows, uint32_t vocab);

#endif
