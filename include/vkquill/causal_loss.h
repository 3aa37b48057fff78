/* The NextQuill causal-effect loss (docs/method.md), fused into one kernel family.
 *
 * R response tokens ran through the model twice, with history (rows [0, R) of the logits,
 * z^h) and without (rows [R, 2R), z^0); row r and row R + r belong to the same token y_r.
 * With p^h = softmax(z^h), p^0 = softmax(z^0), d = z^h - z^0 and s = softmax(d):
 *   DCE_r  = p^h_r[y_r] - p^0_r[y_r]                 (dynamic, or given per token: dce_fixed)
 *   w_r    = 1 | (DCE_r > delta ? lambda : eps) | sum_v p log(p/m) + q log(q/m), m = (p+q)/2
 *   w^_r   = w_r / sum of w over the valid rows
 *   L_n    = sum_r w^_r * -log p^h_r[y_r]
 *   L_p    = sum_r c_r * term_r,  c_r = 1 / N_valid, or w^_r when align_weighted;
 *            term_r = -log s_r[y_r] (ce) or KL(q_r || s_r), q_r = softmax(zD^h_r - zD^0_r) (kl)
 *   L      = L_n + alpha * L_p
 * DCE and the weights are constants: no gradient flows through them. The gradient rows are
 *   dL/dz^h_r =  grad_scale * (w^_r (p^h_r - onehot(y_r)) + alpha c_r (s_r - q_r)),
 *   dL/dz^0_r = -grad_scale * alpha c_r (s_r - q_r),        q_r = onehot(y_r) for ce.
 * A sum of weights (or a count of valid rows) of zero makes every w^ (or c) zero. */
#ifndef VKQUILL_CAUSAL_LOSS_H
#define VKQUILL_CAUSAL_LOSS_H

#include "vkquill/runtime.h"

typedef enum vkq_weighting { VKQ_WEIGHTS_UNIFORM, VKQ_WEIGHTS_THRESHOLD, VKQ_WEIGHTS_JS } vkq_weighting;
typedef enum vkq_alignment { VKQ_ALIGN_NONE, VKQ_ALIGN_CE, VKQ_ALIGN_KL } vkq_alignment;

/* The paper's methods: sft = uniform + none; mce = uniform + ce; dce = threshold + none;
 * nextquill = threshold + ce. */
typedef struct vkq_causal_loss_args {
    uint32_t rows;  /* R response tokens; the logits hold 2R rows, matched by index */
    uint32_t vocab;
    vkq_weighting weighting;
    float delta, lambda, eps;  /* threshold: w = lambda if DCE > delta else eps */
    vkq_alignment align;
    int align_weighted;        /* L_p weighted by w^ (paper) instead of the plain mean (code) */
    float alpha;               /* L = L_n + alpha * L_p */
    int dce_fixed;             /* 1: DCE per token from the dce buffer; 0: from the two passes */
    float grad_scale;          /* multiplies every gradient, e.g. 1 / accumulation steps */
} vkq_causal_loss_args;

/* Records the loss. The gradient rows overwrite the logits (both halves). A target < 0 or
 * >= vocab marks a row to ignore: no loss, zero gradient rows, not counted. stats[r] holds
 * DCE_r, w^_r, w^_r * -log p^h_r[y_r] and c_r * term_r, so each loss is the sum of its column
 * (all zero on an ignored row); totals holds L_n, L_p, L and the share of valid rows with
 * DCE > delta. stats and totals are loss values, not multiplied by grad_scale. */
vkq_status vkq_causal_loss(vkq_rec *rec, const vkq_causal_loss_args *a,
                           vkq_buf logits /* [2R][V]; on return dL/dlogits */,
                           vkq_buf targets /* int32 [R] */,
                           vkq_buf dce /* [R] when dce_fixed, else unused (may be empty) */,
                           vkq_buf ref_logits /* [2R][V] of a frozen model for kl, else empty */,
                           vkq_buf stats /* out [R][4] */, vkq_buf totals /* out [4] */);
/* Bytes of its scratch (the sums and the per-row records), given back when it ends. */
uint64_t vkq_causal_loss_scratch(uint32_t rows);

/* The same loss over a batch split into shares (one a process), in two halves around an
 * exchange of the batch's sums. vkq_causal_loss_sums records the per-token work and this
 * share's VKQ_CAUSAL_SUMS sums; the caller then puts the sum over all shares into every share's
 * sums buffer (an all-reduce), and vkq_causal_loss_finish normalises by it: the gradient rows
 * are those of the whole batch's loss (as if one vkq_causal_loss had run over it), stats holds
 * this share's rows of the batch's stats, and totals the whole batch's losses. work
 * (vkq_causal_loss_work_bytes) and sums are the caller's and must outlive both halves. */
enum { VKQ_CAUSAL_SUMS = 8 };
uint64_t vkq_causal_loss_work_bytes(uint32_t rows);
vkq_status vkq_causal_loss_sums(vkq_rec *rec, const vkq_causal_loss_args *a, vkq_buf logits,
                                vkq_buf targets, vkq_buf dce, vkq_buf ref_logits, vkq_buf work,
                                vkq_buf sums /* out [VKQ_CAUSAL_SUMS] */);
vkq_status vkq_causal_loss_finish(vkq_rec *rec, const vkq_causal_loss_args *a, vkq_buf logits,
                                  vkq_buf targets, vkq_buf ref_logits, vkq_buf work,
                                  vkq_buf sums /* every share's sum */, vkq_buf stats,
                                  vkq_buf totals);

/* The fixed-DCE cache: dce_out[r] = p(y_r | h) - p(y_r | 0) from a frozen reference model's
 * logits [2R][V] (0 on an ignored row). */
vkq_status vkq_causal_dce(vkq_rec *rec, vkq_buf ref_logits, vkq_buf targets, vkq_buf dce_out,
                          uint32_t rows, uint32_t vocab);

#endif
