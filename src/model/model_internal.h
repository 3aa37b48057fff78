/* Private to src/model: the device model's buffers. */
#ifndef VKQ_MODEL_INTERNAL_H
#define VKQ_MODEL_INTERNAL_H

#include "base/status_internal.h"
#include "vkquill/kernels.h"
#include "vkquill/model.h"

/* One layer's activations; model.c's layer_sizes gives each one's shape. */
typedef struct layer_acts {
    vkq_buf xn_att, rstd_att, q_raw, k_raw, rstd_q, rstd_k, q, k, v, att, lse, res_mid, xn_ffn,
        rstd_ffn, h1, h3, hg;
} layer_acts;

/* Gradient workspace, reused by every layer; model.c's work_sizes gives the shapes. */
typedef struct grad_work {
    vkq_buf dres, dxn, dq, dk, dv, dq_raw, dk_raw, datt, dh1, dh3, dhg, dhsel;
} grad_work;

/* Widths the forward and backward use, from the description. */
typedef struct model_dims {
    uint32_t d, h, head_dim, q_dim, kv_dim, vocab;
} model_dims;

void vkq_model_dims_of(const vkq_llama_config *c, model_dims *out);
/* Uploads the description's RoPE inverse frequencies into a new buffer. */
vkq_status vkq_model_upload_rope(vkq_ctx *ctx, const vkq_llama_config *c, vkq_buf *out);

/* The adapters of a model on the device, as the linear layers' forward and backward use them. */
typedef struct lora_run {
    vkq_lora_options opt;
    vkq_lora_layout layout;
    uint32_t max_tokens, n_targets;
    int enabled, dropout_on;
    uint32_t key; /* the dropout key of the micro-batch */
    vkq_buf adapter, grads;
    vkq_buf u; /* per layer (one with recompute) and target, [max_tokens][r]: dropout(x) A^T */
    vkq_buf du;      /* training: [max_tokens][r] */
    vkq_buf dropped; /* with dropout: [max_tokens][widest input], dropout(x), then du A */
    int one_layer;
} lora_run;

/* y[rows][out] (+)= x[rows][in] . w[out][in]^T, plus (alpha / r) dropout(x) A^T B^T when lora
 * (may be NULL) adapts this tensor. */
vkq_status vkq_lora_linear_forward(vkq_rec *rec, const lora_run *lora, vkq_tensor_id id,
                                   uint32_t l, vkq_buf x, vkq_buf w, vkq_buf y, uint32_t rows,
                                   uint32_t in, uint32_t out, float beta);
/* The adapter's part of a linear layer's backward, given dy: dA, dB += and dx +=. */
vkq_status vkq_lora_linear_backward(vkq_rec *rec, const lora_run *lora, vkq_tensor_id id,
                                    uint32_t l, vkq_buf x, vkq_buf dy, vkq_buf dx, uint32_t rows,
                                    uint32_t in, uint32_t out);
static inline int lora_adapts(const lora_run *lora, vkq_tensor_id id)
{
    return lora && lora->opt.r && (lora->opt.targets >> id & 1);
}

struct vkq_model {
    vkq_ctx *ctx;
    vkq_llama_config cfg;
    vkq_llama_tensors tensors;
    vkq_model_options opt;
    model_dims dims;
    vkq_buf params, grads, adam_m, adam_v, grad_sumsq, inv_freq;
    vkq_buf trainable;    /* params, or the adapters under LoRA */
    uint64_t n_trainable; /* floats in trainable, grads and the moments */
    vkq_buf discard;      /* under LoRA: where the frozen norms' weight gradients go */
    lora_run lora;
    vkq_buf tokens, starts, positions, rows;
    vkq_buf emb_positions, emb_group_start, emb_group_token;
    uint32_t emb_groups;
    uint32_t n_tokens, n_rows;
    vkq_buf *res; /* n_layers + 1 residual streams */
    layer_acts *layers; /* n_layers of them, or one reused by every layer with recompute */
    vkq_buf xn_final, rstd_final, hsel, logits;
    grad_work g;
};

static inline uint64_t f32(uint64_t n) { return n * sizeof(float); }

/* Layer l's slice of a tensor in a flat block (parameters or gradients). */
vkq_buf vkq_tensor_buf(vkq_buf block, const vkq_llama_tensors *ts, vkq_tensor_id id, uint32_t l);
/* y[rows][out] (+)= x[rows][in] . w[out][in]^T */
vkq_status vkq_model_linear(vkq_rec *rec, vkq_buf x, vkq_buf w, vkq_buf y, uint32_t rows,
                            uint32_t in, uint32_t out, float beta);

/* Attention's inputs from a layer's normalised input: q, k, v projections, their biases,
 * the q/k norms and RoPE, as the description asks. q_raw, k_raw, rstd_q and rstd_k hold the
 * projections before the norms (unused without qk_norm). */
typedef struct qkv_bufs {
    vkq_buf xn, q_raw, k_raw, rstd_q, rstd_k, q, k, v;
} qkv_bufs;
vkq_status vkq_model_qkv_forward(vkq_rec *rec, const vkq_llama_config *c, const model_dims *m,
                                 const vkq_llama_tensors *ts, vkq_buf params,
                                 const lora_run *lora, uint32_t l, const qkv_bufs *b,
                                 const vkq_rope_args *rope);


static inline vkq_status need_training(const vkq_model *m)
{
    if (!m->opt.training)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "the model was not created for training");
    return VKQ_OK;
}

#endif
