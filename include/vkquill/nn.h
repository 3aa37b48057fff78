/* Neural-network kernels for Llama-family models, forward and backward, fp32.
 * Tensors are row-major [rows][dim]. Backward kernels ADD into every gradient they write
 * (parameter and input gradients alike), so callers zero gradients once per step and
 * gradient accumulation needs nothing more. */
#ifndef VKQUILL_NN_H
#define VKQUILL_NN_H

#include "vkquill/dtype.h"
#include "vkquill/kernels.h"

/* y = x * rstd * w, rstd[r] = 1 / sqrt(mean(x[r]^2) + eps); rstd is kept for the backward. */
vkq_status vkq_rmsnorm_forward(vkq_rec *rec, vkq_buf x, vkq_buf w, vkq_buf y, vkq_buf rstd,
                               uint32_t rows, uint32_t dim, float eps);
/* dx += d(y)/dx^T dy; dw += sum over rows of dy * x * rstd. */
vkq_status vkq_rmsnorm_backward(vkq_rec *rec, vkq_buf dy, vkq_buf x, vkq_buf w, vkq_buf rstd,
                                vkq_buf dx, vkq_buf dw, uint32_t rows, uint32_t dim);
/* Bytes of the backward's partial weight gradients, scratch it gives back when it ends. */
uint64_t vkq_rmsnorm_backward_scratch(const vkq_scratch_target *t, uint32_t rows,
                                      uint32_t dim);

/* out[t] = table[tokens[t]] for int32 token ids; an id outside [0, vocab) gives a row of zeros. */
vkq_status vkq_embedding_forward(vkq_rec *rec, vkq_buf table /* [vocab][dim] */,
                                 vkq_buf tokens /* int32 [n] */, vkq_buf out /* [n][dim] */,
                                 uint32_t n, uint32_t dim, uint32_t vocab);
/* One piece of a table split by rows: buf holds the table's rows [first, first + rows), as
 * elements of dtype (fp32, or for the forward of a frozen table f16 or bf16). */
typedef struct vkq_table_rows {
    vkq_buf buf;
    uint32_t first, rows;
    vkq_dtype dtype;
} vkq_table_rows;
/* The forward over one piece of a table of vocab rows: out[t] = the piece's row of tokens[t]
 * for the ids it holds, a row of zeros for an id outside [0, vocab), others left as they are;
 * run over every piece, it is vkq_embedding_forward. */
vkq_status vkq_embedding_forward_rows(vkq_rec *rec, const vkq_table_rows *table, vkq_buf tokens,
                                      vkq_buf out, uint32_t n, uint32_t dim, uint32_t vocab);
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
/* The same for one piece of dtable: only the groups of the ids it holds add. */
vkq_status vkq_embedding_backward_rows(vkq_rec *rec, vkq_buf dout, vkq_buf positions,
                                       vkq_buf group_start, vkq_buf group_token, uint32_t groups,
                                       const vkq_table_rows *dtable, uint32_t n, uint32_t dim);

/* Which two dimensions of a head RoPE turns together. */
typedef enum vkq_rope_pairs {
    VKQ_ROPE_INTERLEAVED = 0, /* (x[2i], x[2i+1]): llama2.c and Meta's original checkpoints */
    VKQ_ROPE_HALVES = 1       /* (x[i], x[i + head_dim/2]): Hugging Face's rotate_half */
} vkq_rope_pairs;

typedef enum vkq_rope_scaling_type {
    VKQ_ROPE_SCALING_NONE = 0,
    VKQ_ROPE_SCALING_LLAMA3 = 1 /* Llama 3.1's rope_type "llama3" */
} vkq_rope_scaling_type;

typedef struct vkq_rope_scaling {
    vkq_rope_scaling_type type;
    float factor, low_freq_factor, high_freq_factor;
    uint32_t original_max_position; /* original_max_position_embeddings */
} vkq_rope_scaling;

/* inv_freq[i] = theta^(-2i / head_dim) for i < head_dim / 2, then scaled (scaling may be
 * NULL) as transformers' _compute_llama3_parameters does; in double, rounded to float. */
void vkq_rope_frequencies(float theta, const vkq_rope_scaling *scaling, uint32_t head_dim,
                          float *inv_freq);
/* What llama3 scaling divides each unscaled inverse frequency by, [head_dim / 2]: 1 for short
 * wavelengths, factor for long ones, a blend between (as llama.cpp's rope_freqs holds it). */
void vkq_rope_llama3_divisors(float theta, const vkq_rope_scaling *scaling, uint32_t head_dim,
                              float *divisor);

typedef struct vkq_rope_args {
    vkq_buf positions; /* int32 [n]: token t's place in its own sequence */
    vkq_buf inv_freq;  /* [head_dim / 2], from vkq_rope_frequencies */
    uint32_t n, heads, head_dim;
    vkq_rope_pairs pairs;
} vkq_rope_args;

/* Rotary embedding in place on x [n][heads * head_dim]: each head's pair i turns by
 * positions[t] * inv_freq[i]. */
vkq_status vkq_rope_forward(vkq_rec *rec, vkq_buf x, const vkq_rope_args *args);
/* Unlike the other backward kernels this one does not add: it turns the gradient in place,
 * dx = R^T dx, since the rotation maps the gradient through without another input. */
vkq_status vkq_rope_backward(vkq_rec *rec, vkq_buf dx, const vkq_rope_args *args);

/* A linear layer's bias: y[r] += b for every row r of y [rows][dim]. */
vkq_status vkq_bias_forward(vkq_rec *rec, vkq_buf y, vkq_buf b, uint32_t rows, uint32_t dim);
/* db += the sum of dy's rows, dy [rows][dim]; deterministic. */
vkq_status vkq_bias_backward(vkq_rec *rec, vkq_buf dy, vkq_buf db, uint32_t rows, uint32_t dim);

/* Inverted dropout whose mask is a pure function of (key, index), so the backward regenerates
 * it: element i is kept when lowbias32(i * 0x9e3779b9 + lowbias32(key)) >=
 * vkq_dropout_threshold(p) (32-bit wrap-around; lowbias32 is Chris Wellons' integer hash) and
 * then scaled by 1 / (1 - p). p in [0, 1). out may not alias x. */
vkq_status vkq_dropout_forward(vkq_rec *rec, vkq_buf x, vkq_buf out, uint32_t n, float p,
                               uint32_t key);
/* dx += mask * dout / (1 - p), the same mask as the forward with this key. */
vkq_status vkq_dropout_backward(vkq_rec *rec, vkq_buf dout, vkq_buf dx, uint32_t n, float p,
                                uint32_t key);
/* round(p * 2^32), at most 2^32 - 1. */
uint32_t vkq_dropout_threshold(float p);

/* out = silu(a) * b element-wise, silu(a) = a / (1 + exp(-a)). */
vkq_status vkq_swiglu_forward(vkq_rec *rec, vkq_buf a, vkq_buf b, vkq_buf out, uint32_t n);
/* da += dout * b * silu'(a); db += dout * silu(a). */
vkq_status vkq_swiglu_backward(vkq_rec *rec, vkq_buf dout, vkq_buf a, vkq_buf b, vkq_buf da,
                               vkq_buf db, uint32_t n);

/* Whole rows picked by an int32 row list, e.g. to compute logits only where a loss needs
 * them. dst[i] = src[rows[i]]; an index outside [0, n) gathers a row of zeros. */
vkq_status vkq_gather_rows(vkq_rec *rec, vkq_buf src /* [n][dim] */,
                           vkq_buf rows /* int32 [count] */, vkq_buf dst /* [count][dim] */,
                           uint32_t count, uint32_t dim, uint32_t n);
/* The backward of the gather: dst[rows[i]] += src[i]. The row indices must be distinct (the
 * kernel adds without atomics); an index outside [0, n) adds nothing. */
vkq_status vkq_scatter_add_rows(vkq_rec *rec, vkq_buf src /* [count][dim] */, vkq_buf rows,
                                vkq_buf dst /* [n][dim] */, uint32_t count, uint32_t dim,
                                uint32_t n);
/* dst[rows[i]] = src[i], e.g. new keys into a KV cache; distinct rows, as for the scatter-add. */
vkq_status vkq_copy_rows(vkq_rec *rec, vkq_buf src /* [count][dim] */, vkq_buf rows,
                         vkq_buf dst /* [n][dim] */, uint32_t count, uint32_t dim, uint32_t n);

/* A block of columns between row-major matrices: dst[r][dst_at + j] = src[r][src_at + j] for
 * r < rows, j < cols; src has rows of src_width floats, dst of dst_width (e.g. the logits of
 * one vocabulary piece into whole logit rows, and back). */
vkq_status vkq_copy_columns(vkq_rec *rec, vkq_buf src, uint32_t src_width, uint32_t src_at,
                            vkq_buf dst, uint32_t dst_width, uint32_t dst_at, uint32_t rows,
                            uint32_t cols);

/* Softmax cross-entropy over rows of vocab logits, numerically stable, fp32:
 *   losses[r]  = weights[r] * (logsumexp(logits[r]) - logits[r][targets[r]])
 *   dlogits[r] = weights[r] * (softmax(logits[r]) - onehot(targets[r]))
 * A target outside [0, vocab) is ignored: loss 0 and a zero gradient row. dlogits is written,
 * not added, and may be the logits buffer itself (the logits are then overwritten); a buffer
 * with no block skips the gradient. Sum the losses with vkq_sum. */
vkq_status vkq_cross_entropy(vkq_rec *rec, vkq_buf logits /* [rows][vocab] */,
                             vkq_buf targets /* int32 [rows] */, vkq_buf weights /* [rows] */,
                             vkq_buf losses /* [rows] */, vkq_buf dlogits /* [rows][vocab] */,
                             uint32_t rows, uint32_t vocab);

/* AdamW hyperparameters, kept in a device buffer (one struct) that the host rewrites between
 * submits, so a schedule needs no re-recording. */
typedef struct vkq_adamw_hyper {
    float lr, beta1, beta2, eps, weight_decay;
    float bias_correction1; /* 1 - beta1^t at step t (from 1) */
    float bias_correction2; /* 1 - beta2^t */
    float max_grad_norm;    /* <= 0: no clipping */
} vkq_adamw_hyper;
/* One AdamW step over n parameters, as torch.optim.AdamW, after clipping by global norm:
 * g = grads * min(1, max_grad_norm / (sqrt(grad_sumsq) + 1e-6)); m = b1 m + (1-b1) g;
 * v = b2 v + (1-b2) g^2; params -= lr wd params; params -= lr (m/bc1) / (sqrt(v/bc2) + eps).
 * grad_sumsq is one float, the sum of squares of all gradients (vkq_sumsq recorded before). */
vkq_status vkq_adamw(vkq_rec *rec, vkq_buf params, vkq_buf grads, vkq_buf m, vkq_buf v,
                     vkq_buf hyper /* one vkq_adamw_hyper */, vkq_buf grad_sumsq, uint32_t n);

/* Causal self-attention with grouped-query heads over packed variable-length sequences.
 * The n tokens of several sequences share one stream; the int32 starts[t] is the first token of
 * t's sequence, and token t attends to the keys starts[t] <= s <= t (each sequence contiguous).
 * q and out are [n][heads][head_dim], k and v [n][kv_heads][head_dim]; query head h uses kv head
 * h / (heads / kv_heads). Scores are q.k / sqrt(head_dim), softmax over the allowed keys,
 * out[t][h] = sum_s p_ts v[s]. lse [n][heads] keeps the log-sum-exp of every score row for the
 * backward. head_dim is at most VKQ_ATTENTION_MAX_HEAD_DIM. */
enum { VKQ_ATTENTION_MAX_HEAD_DIM = 128 };
vkq_status vkq_attention_forward(vkq_rec *rec, vkq_buf q, vkq_buf k, vkq_buf v, vkq_buf starts,
                                 vkq_buf out, vkq_buf lse, vkq_buf kept, uint32_t n,
                                 uint32_t heads, uint32_t kv_heads, uint32_t head_dim);
/* dq, dk, dv += the gradients of the forward's out, given dout; deterministic; n <= 2^24.
 * kept: an empty buffer, or one of at least vkq_attention_kept_bytes where the forward of the
 * same q, k and v left them packed, which the backward then reads instead of packing them
 * again (the gpu variant reads them in place and takes 0 bytes). */
vkq_status vkq_attention_backward(vkq_rec *rec, vkq_buf dout, vkq_buf q, vkq_buf k, vkq_buf v,
                                  vkq_buf starts, vkq_buf out, vkq_buf lse, vkq_buf kept,
                                  vkq_buf dq, vkq_buf dk, vkq_buf dv, uint32_t n, uint32_t heads,
                                  uint32_t kv_heads, uint32_t head_dim);
uint64_t vkq_attention_kept_bytes(const vkq_scratch_target *t, uint32_t n, uint32_t heads,
                                  uint32_t kv_heads, uint32_t head_dim);
/* Bytes of the scratch one forward and one backward launch take (and give back when they
 * end), with or without a kept buffer: packed tensors and per-query statistics, linear in n;
 * the score matrix is never stored. The backward's two requests come in the order given. */
void vkq_attention_scratch(const vkq_scratch_target *t, uint32_t n, uint32_t heads,
                           uint32_t kv_heads, uint32_t head_dim, int kept, uint64_t *forward,
                           uint64_t backward[2]);

/* Generation: one new query per sequence, q [n][heads * head_dim], attends to its cache rows
 * bases[i] .. bases[i] + lengths[i] - 1 of k_cache and v_cache [cache_rows][kv_heads *
 * head_dim] (int32 bases and lengths); out [n][heads * head_dim]. */
vkq_status vkq_attention_decode(vkq_rec *rec, vkq_buf q, vkq_buf k_cache, vkq_buf v_cache,
                                vkq_buf bases, vkq_buf lengths, vkq_buf out, uint32_t n,
                                uint32_t cache_rows, uint32_t heads, uint32_t kv_heads,
                                uint32_t head_dim);

#endif
