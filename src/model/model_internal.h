/* Private to src/model: the device model's buffers. */
#ifndef VKQ_MODEL_INTERNAL_H
#define VKQ_MODEL_INTERNAL_H

#include "base/status_internal.h"
#include "vkquill/kernels.h"
#include "vkquill/model.h"

typedef struct layer_acts {
    vkq_buf xn_att, rstd_att, q, k, v, att, lse, res_mid, xn_ffn, rstd_ffn, h1, h3, hg;
} layer_acts;

/* Gradient workspace, reused by every layer. */
typedef struct grad_work {
    vkq_buf dres, dxn, dq, dk, dv, datt, dh1, dh3, dhg, dhsel;
} grad_work;

struct vkq_model {
    vkq_ctx *ctx;
    vkq_llama_config cfg;
    vkq_llama_layout layout;
    vkq_model_options opt;
    uint32_t head_dim, kv_dim;
    vkq_buf params, grads, adam_m, adam_v, grad_sumsq;
    vkq_buf tokens, starts, positions, rows;
    vkq_buf emb_positions, emb_group_start, emb_group_token;
    uint32_t emb_groups;
    uint32_t n_tokens, n_rows;
    vkq_buf *res; /* n_layers + 1 residual streams */
    layer_acts *layers;
    vkq_buf xn_final, rstd_final, hsel, logits;
    grad_work g;
};

static inline uint64_t f32(uint64_t n) { return n * sizeof(float); }

static inline vkq_status need_training(const vkq_model *m)
{
    if (!m->opt.training)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "the model was not created for training");
    return VKQ_OK;
}

#endif
