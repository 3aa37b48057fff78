/* Private to src/model: the device model's buffers. */
#ifndef VKQ_MODEL_INTERNAL_H
#define VKQ_MODEL_INTERNAL_H

#include "base/status_internal.h"
#include "vkquill/kernels.h"
#include "vkquill/model.h"

/* How a flat block (llama.h's layout) lies on the device (blocks.c): in pieces, each within
 * one binding. Every layer slice of a tensor lies whole in one piece, at an offset aligned for
 * any binding, in its tensor's dtype (a frozen base may keep its matrices in 16 bits); a slice
 * larger than a binding (the embedding, the classifier) is cut into row ranges of
 * split_rows[id] rows, each a slice of its own. The host sees fp32 in the layout order. */
typedef struct flat_slice {
    uint64_t at, floats; /* in the host layout */
    uint32_t piece;
    uint64_t offset;     /* bytes into the piece */
    vkq_dtype dtype;
} flat_slice;

typedef struct flat_plan {
    vkq_llama_tensors tensors;
    flat_slice *slice;
    uint32_t slice_count;
    uint32_t first_slice[VKQ_TENSOR_COUNT]; /* of each tensor: its layers', or its row ranges */
    uint32_t split_rows[VKQ_TENSOR_COUNT];  /* 0: not split */
    uint32_t count;                         /* pieces */
    uint64_t *piece_bytes;                  /* [count], the padding between slices included */
} flat_plan;

/* One flat block (parameters, gradients or a moment) laid out by a plan. */
typedef struct flat_block {
    const flat_plan *plan;
    vkq_buf *piece; /* [plan->count] */
} flat_block;

/* A matrix as the matmul reads it: its slice and its element type. */
typedef struct weight_buf {
    vkq_buf buf;
    vkq_dtype dtype;
} weight_buf;

vkq_status vkq_flat_plan_make(uint64_t max_binding, const vkq_llama_tensors *ts, flat_plan *out);
/* The plan of an adapter block (vkq_lora_layout): each adapted tensor's first_slice is layer
 * 0's A, then come the other layers' A, then every layer's B. */
vkq_status vkq_flat_plan_lora(uint64_t max_binding, const vkq_llama_tensors *ts,
                              const vkq_lora_options *o, const vkq_lora_layout *lay,
                              flat_plan *out);
void vkq_flat_plan_free(flat_plan *p);
/* The pieces, zeroed (the padding between slices stays zero through every kernel). */
vkq_status vkq_flat_alloc(vkq_ctx *ctx, const flat_plan *plan, flat_block *out);
void vkq_flat_free(vkq_ctx *ctx, flat_block *b);
/* The whole block from or to host memory in the flat layout. */
vkq_status vkq_flat_upload(vkq_ctx *ctx, const flat_block *b, const float *src);
vkq_status vkq_flat_download(vkq_ctx *ctx, const flat_block *b, float *dst);
/* Elements [first, first + n) of slice i from n host floats, converted to the slice's dtype. */
vkq_status vkq_flat_slice_upload(vkq_ctx *ctx, const flat_block *b, uint32_t i, uint64_t first,
                                 const float *src, uint64_t n);
/* Floats of piece i of an all-fp32 block (gradients, moments, a trainable block). */
uint64_t vkq_flat_piece_floats(const flat_block *b, uint32_t i);
/* The bytes of the pieces: what the block takes on the device. */
uint64_t vkq_flat_bytes(const flat_plan *p);
/* The i-th slice of a block, in the plan's order. */
vkq_buf vkq_flat_slice(const flat_block *b, uint32_t i);

/* One layer's activations; model.c's layer_sizes gives each one's shape. */
typedef struct layer_acts {
    vkq_buf xn_att, rstd_att, q_raw, k_raw, rstd_q, rstd_k, q, k, v, att, lse, res_mid, xn_ffn,
        rstd_ffn, h1, h3, hg;
} layer_acts;

/* Gradient workspace, reused by every layer; model.c's work_sizes gives the shapes. */
typedef struct grad_work {
    vkq_buf dres, dxn, dq, dk, dv, dq_raw, dk_raw, datt, dh1, dh3, dhg, dhsel;
} grad_work;

enum { LAYER_BUFS = sizeof(layer_acts) / sizeof(vkq_buf),
       WORK_BUFS = sizeof(grad_work) / sizeof(vkq_buf),
       OUTER_BUFS = 9 /* tokens, starts, positions, rows, xn_final, rstd_final, emb_* */ };

/* The size table (plan.c), in floats, shared by the allocation and the memory plan: each
 * layer_acts buffer for t tokens, each grad_work buffer for t tokens and r rows, the buffers
 * outside the layers (a size 0 still gets a buffer), the layers whose activations are kept,
 * the adapters' products u, their workspaces du and dropped (allocated only when not 0),
 * and the frozen norms' discarded gradients under LoRA. */
void vkq_model_layer_sizes(const vkq_llama_config *c, uint64_t t, uint64_t out[LAYER_BUFS]);
void vkq_model_work_sizes(const vkq_llama_config *c, uint64_t t, uint64_t r,
                          uint64_t out[WORK_BUFS]);
void vkq_model_outer_sizes(const vkq_llama_config *c, const vkq_model_options *o,
                           uint64_t out[OUTER_BUFS]);
uint32_t vkq_model_kept_layers(const vkq_llama_config *c, const vkq_model_options *o);
/* Bytes of each kept layer's packed q, k and v, which a training forward leaves for the
 * backward (0: none kept). */
uint64_t vkq_model_attention_kept_bytes(const vkq_llama_config *c, const vkq_model_options *o,
                                        const vkq_scratch_target *t);
uint64_t vkq_model_lora_u_floats(const vkq_llama_config *c, const vkq_model_options *o);
void vkq_model_lora_work_floats(const vkq_llama_config *c, const vkq_model_options *o,
                                uint64_t *du, uint64_t *dropped);
uint64_t vkq_model_discard_floats(const vkq_llama_config *c);

/* Widths the forward and backward use, from the description. */
typedef struct model_dims {
    uint32_t d, h, head_dim, q_dim, kv_dim, vocab;
} model_dims;

void vkq_model_dims_of(const vkq_llama_config *c, model_dims *out);
/* Uploads every tensor of a source into the flat block, in pieces. */
vkq_status vkq_model_upload_weights(vkq_ctx *ctx, const vkq_llama_config *c,
                                    const flat_block *block, const vkq_tensor_source *weights);
/* Uploads the description's RoPE inverse frequencies into a new buffer. */
vkq_status vkq_model_upload_rope(vkq_ctx *ctx, const vkq_llama_config *c, vkq_buf *out);

/* The adapters of a model on the device, as the linear layers' forward and backward use them. */
typedef struct lora_run {
    vkq_lora_options opt;
    vkq_lora_layout layout;
    uint32_t max_tokens, n_targets;
    int enabled, dropout_on;
    uint32_t key; /* the dropout key of the micro-batch */
    flat_plan plan;          /* each layer's A and each layer's B is a slice */
    flat_block adapter;
    const flat_block *grads; /* training: the model's gradients, laid out by plan */
    vkq_buf u; /* per layer (one with recompute) and target, [max_tokens][r]: dropout(x) A^T */
    vkq_buf du;      /* training: [max_tokens][r] */
    vkq_buf dropped; /* with dropout: [max_tokens][widest input], dropout(x), then du A */
    int one_layer;
} lora_run;

/* y[rows][out] (+)= x[rows][in] . w[out][in]^T, plus (alpha / r) dropout(x) A^T B^T when lora
 * (may be NULL) adapts this tensor. */
vkq_status vkq_lora_linear_forward(vkq_rec *rec, const lora_run *lora, vkq_tensor_id id,
                                   uint32_t l, const vkq_packed *x, weight_buf w, vkq_buf y,
                                   uint32_t rows, uint32_t in, uint32_t out, float beta);
/* The adapter's part of a linear layer's backward, given dy: dA, dB += and dx +=; x is the
 * layer input as the B operand of dA's product (model_step.c's pack_grad_input). */
vkq_status vkq_lora_linear_backward(vkq_rec *rec, const lora_run *lora, vkq_tensor_id id,
                                    uint32_t l, const vkq_packed *x, vkq_buf dy, vkq_buf dx,
                                    uint32_t rows, uint32_t in, uint32_t out);
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
    flat_plan plan;                   /* the base's */
    flat_block params;
    flat_block *trainable;            /* &params, or &lora.adapter under LoRA */
    uint64_t n_trainable;             /* its floats in the host layout */
    flat_block grads, adam_m, adam_v; /* of the trainable block, laid out by its plan */
    vkq_buf grad_sumsq, piece_sumsq, inv_freq;
    vkq_buf discard; /* under LoRA: where the frozen norms' weight gradients go */
    lora_run lora;
    vkq_buf tokens, starts, positions, rows;
    vkq_buf emb_positions, emb_group_start, emb_group_token;
    uint32_t emb_groups;
    uint32_t n_tokens, n_rows;
    vkq_buf *res; /* n_layers + 1 residual streams */
    layer_acts *layers; /* n_layers of them, or one reused by every layer with recompute */
    vkq_buf *attention_kept; /* beside each layers entry: its packed q, k and v, or empty */
    vkq_buf xn_final, rstd_final, hsel, logits, logits_part;
    grad_work g;
};

static inline uint64_t f32(uint64_t n) { return n * sizeof(float); }

/* Layer l's slice of a tensor in a flat block (parameters or gradients); for a tensor split by
 * rows, use the row pieces instead. */
vkq_buf vkq_tensor_buf(const flat_block *b, vkq_tensor_id id, uint32_t l);
weight_buf vkq_tensor_weight(const flat_block *b, vkq_tensor_id id, uint32_t l);
/* A tensor's rows [first, first + rows) in one piece; a tensor not split is one row piece. */
typedef struct row_piece {
    weight_buf w;
    uint32_t first, rows;
} row_piece;
uint32_t vkq_row_piece_count(const flat_block *b, vkq_tensor_id id);
row_piece vkq_row_piece_at(const flat_block *b, vkq_tensor_id id, uint32_t i);
/* x [rows][in] packed as the input of linear layers of `out` outputs (the first that reads it),
 * for vkq_model_linear_packed; vkq_matmul_unpack gives its panels back. */
vkq_status vkq_model_pack_input(vkq_rec *rec, vkq_buf x, uint32_t rows, uint32_t in,
                                uint32_t out, vkq_packed *xp);
vkq_status vkq_model_linear_packed(vkq_rec *rec, const vkq_packed *x, weight_buf w, vkq_buf y,
                                   uint32_t rows, uint32_t in, uint32_t out, float beta);
/* y[rows][out] (+)= x[rows][in] . w[out][in]^T */
vkq_status vkq_model_linear(vkq_rec *rec, vkq_buf x, weight_buf w, vkq_buf y, uint32_t rows,
                            uint32_t in, uint32_t out, float beta);

/* The token embedding, piece by piece of the table: out [n][d] from int32 tokens [n]. */
vkq_status vkq_model_embed(vkq_rec *rec, const flat_block *params, vkq_buf tokens, vkq_buf out,
                           uint32_t n, uint32_t d, uint32_t vocab);
/* The classifier: logits [rows][vocab] = x [rows][d] . wcls^T, piece by piece of wcls; part
 * holds one piece's logits (vkq_logits_part_floats). */
vkq_status vkq_model_classify(vkq_rec *rec, const flat_block *params, vkq_buf x, vkq_buf logits,
                              vkq_buf part, uint32_t rows, uint32_t d, uint32_t vocab);
/* Floats of the workspace for one classifier piece's logits of `rows` rows (0 unsplit). */
uint64_t vkq_logits_part_floats(const flat_plan *p, uint32_t rows);

/* Attention's inputs from a layer's normalised input: q, k, v projections, their biases,
 * the q/k norms and RoPE, as the description asks. q_raw, k_raw, rstd_q and rstd_k hold the
 * projections before the norms (unused without qk_norm). */
typedef struct qkv_bufs {
    vkq_buf xn, q_raw, k_raw, rstd_q, rstd_k, q, k, v;
} qkv_bufs;
vkq_status vkq_model_qkv_forward(vkq_rec *rec, const vkq_llama_config *c, const model_dims *m,
                                 const flat_block *params, const lora_run *lora,
                                 uint32_t l, const qkv_bufs *b, const vkq_rope_args *rope);


static inline vkq_status need_training(const vkq_model *m)
{
    if (!m->opt.training)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "the model was not created for training");
    return VKQ_OK;
}

#endif
