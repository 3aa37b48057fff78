/* The model description: a Llama-family architecture (Llama 2/3, Mistral, Qwen2/2.5/3,
 * SmolLM2, llama2.c) and the table of its named tensors, each a span of one flat float block.
 * File formats (llama2c.h, the Hugging Face directory) are loaders and writers into this
 * description; the device model, the decoder and every caller read only the description. */
#ifndef VKQUILL_LLAMA_H
#define VKQUILL_LLAMA_H

#include <stddef.h>
#include <stdint.h>

#include "vkquill/dtype.h"
#include "vkquill/nn.h"
#include "vkquill/status.h"

enum { VKQ_MAX_EOS_IDS = 8 };

typedef struct vkq_llama_config {
    uint32_t dim;        /* model width D */
    uint32_t hidden_dim; /* feed-forward width H */
    uint32_t n_layers;   /* L */
    uint32_t n_heads;
    uint32_t n_kv_heads; /* grouped-query attention: n_heads / n_kv_heads queries share a key */
    uint32_t head_dim;   /* 0: dim / n_heads (llama2.c); Qwen3 sets its own */
    uint32_t vocab_size; /* V */
    uint32_t seq_len;    /* longest context (max_position_embeddings) */
    int shared_classifier; /* the output classifier is the token embedding (tied) */
    float norm_eps;        /* RMSNorm epsilon */
    float rope_theta;      /* RoPE base */
    vkq_rope_pairs rope_pairs;    /* llama2.c interleaved pairs or Hugging Face halves */
    vkq_rope_scaling rope_scaling;
    int qkv_bias; /* q, k and v projections have biases (Qwen2, Qwen2.5) */
    int qk_norm;  /* RMSNorm of every query and key head over head_dim before RoPE (Qwen3) */
    int32_t bos_id, pad_id; /* -1: none */
    int32_t eos_ids[VKQ_MAX_EOS_IDS]; /* any of them ends a generation */
    uint32_t n_eos;
} vkq_llama_config;

/* The tensors of a model, in the order of the flat block (llama2.c's order for the tensors a
 * llama2.c model has). Per-layer tensors are stacked: layer l's slice follows layer l-1's. */
typedef enum vkq_tensor_id {
    VKQ_TOK_EMB,   /* [V][D] */
    VKQ_RMS_ATT,   /* [L][D] */
    VKQ_WQ,        /* [L][QD][D], QD = n_heads * head_dim */
    VKQ_WK,        /* [L][KVD][D], KVD = n_kv_heads * head_dim */
    VKQ_WV,        /* [L][KVD][D] */
    VKQ_BQ,        /* [L][QD]   with qkv_bias */
    VKQ_BK,        /* [L][KVD]  with qkv_bias */
    VKQ_BV,        /* [L][KVD]  with qkv_bias */
    VKQ_Q_NORM,    /* [L][head_dim] with qk_norm */
    VKQ_K_NORM,    /* [L][head_dim] with qk_norm */
    VKQ_WO,        /* [L][D][QD] */
    VKQ_RMS_FFN,   /* [L][D] */
    VKQ_W1,        /* [L][H][D] gate */
    VKQ_W2,        /* [L][D][H] down */
    VKQ_W3,        /* [L][H][D] up */
    VKQ_RMS_FINAL, /* [D] */
    VKQ_WCLS,      /* [V][D]; the token embedding itself when the classifier is shared */
    VKQ_TENSOR_COUNT
} vkq_tensor_id;

typedef struct vkq_tensor {
    const char *name;    /* "wq", ... */
    uint32_t layers;     /* L for a per-layer tensor, else 1; 0 when the model lacks it */
    uint32_t rows, cols; /* one layer's slice; a vector has rows 1 */
    vkq_dtype dtype;     /* of the device copy (vkq_llama_tensors_store) */
    int linear;          /* a linear layer's weight, where low-rank adapters attach */
    size_t offset;       /* floats into the flat block */
} vkq_tensor;

typedef struct vkq_llama_tensors {
    vkq_tensor t[VKQ_TENSOR_COUNT];
    size_t total; /* floats in the flat block */
} vkq_llama_tensors;

/* Every size positive and within generous limits, an even head size (n_heads dividing dim
 * when head_dim is 0), n_kv_heads dividing n_heads, positive finite norm_eps and rope_theta,
 * a sane rope_scaling. */
vkq_status vkq_llama_config_check(const vkq_llama_config *c);
/* Only for a config that passed vkq_llama_config_check. */
void vkq_llama_tensors_of(const vkq_llama_config *c, vkq_llama_tensors *out);
uint32_t vkq_llama_head_dim(const vkq_llama_config *c);
/* Floats in one layer's slice of a tensor. */
static inline size_t vkq_tensor_slice(const vkq_tensor *t) { return (size_t)t->rows * t->cols; }
/* Offset of layer l's slice. */
static inline size_t vkq_tensor_at(const vkq_tensor *t, uint32_t l)
{
    return t->offset + (size_t)l * vkq_tensor_slice(t);
}
/* Floats the tensor holds in the block (0 for a classifier shared with the embedding). */
size_t vkq_tensor_floats(const vkq_llama_tensors *ts, vkq_tensor_id id);
/* The device keeps the matrices (linear weights, embedding, classifier) as `matrices`; norms
 * and biases stay F32 (they are small). vkq_llama_tensors_of stores everything as F32. */
void vkq_llama_tensors_store(vkq_llama_tensors *ts, vkq_dtype matrices);
/* Bytes of the device copy, each tensor in its dtype (the classifier shared: once). */
uint64_t vkq_llama_tensors_bytes(const vkq_llama_tensors *ts);
/* RoPE's inverse frequencies, [head_dim / 2]. */
void vkq_llama_rope_frequencies(const vkq_llama_config *c, float *inv_freq);
/* Whether token is one of the config's end-of-sequence ids. */
int vkq_llama_is_eos(const vkq_llama_config *c, int32_t token);

/* Where a model's weights come from, tensor by tensor: read fills out with the floats
 * [first, first + n) of tensor id (all its layers, stacked as in the flat block) as fp32.
 * File loaders read their files in pieces through it, so the device upload never needs a
 * second whole copy of the weights in host memory. */
typedef struct vkq_tensor_source {
    vkq_status (*read)(void *user, vkq_tensor_id id, size_t first, size_t n, float *out);
    void *user;
} vkq_tensor_source;

/* A source over a flat block in table order; f holds the table and must outlive the source. */
typedef struct vkq_flat_weights {
    vkq_llama_tensors tensors;
    const float *params;
} vkq_flat_weights;
vkq_tensor_source vkq_flat_source(vkq_flat_weights *f, const vkq_llama_config *c,
                                  const float *params);
/* Every tensor of a source into a new malloc'ed flat block of the table's total floats. */
vkq_status vkq_tensor_source_read_all(const vkq_llama_config *c, const vkq_tensor_source *src,
                                      float **params);
/* Calls fn with consecutive pieces (at most max_floats each) of every tensor the block holds,
 * as the source gives them: fn(user, tensor, floats into the flat block, piece, floats). */
typedef vkq_status (*vkq_piece_fn)(void *user, vkq_tensor_id id, size_t offset,
                                   const float *piece, size_t n);
vkq_status vkq_tensor_source_each_piece(const vkq_llama_config *c, const vkq_tensor_source *src,
                                        size_t max_floats, vkq_piece_fn fn, void *user);

/* Moves a model with interleaved RoPE pairs to Hugging Face's halves, as transformers'
 * convert_llama_weights_to_hf does: within every query and key head, row 2i + a of wq and wk
 * (and of bq, bk) moves to row a * head_dim / 2 + i. The model computes the same function
 * afterwards. Refuses q/k norms (their weights would move too) and a model already in halves. */
vkq_status vkq_llama_rope_to_halves(vkq_llama_config *c, float *params);

/* Fresh weights for training from scratch: normal(0, 0.02) matrices (residual projections
 * scaled by 1/sqrt(2 n_layers)), RMSNorm gains 1, biases 0; deterministic for a seed. */
void vkq_llama_init_random(const vkq_llama_config *c, uint64_t seed, float *params);

#endif
