/* Llama-family model shape, its parameters as one flat float block, and llama2.c checkpoints. */
#ifndef VKQUILL_LLAMA_H
#define VKQUILL_LLAMA_H

#include <stddef.h>
#include <stdint.h>

#include "vkquill/status.h"

typedef struct vkq_llama_config {
    uint32_t dim;        /* model width D */
    uint32_t hidden_dim; /* feed-forward width H */
    uint32_t n_layers;   /* L */
    uint32_t n_heads;
    uint32_t n_kv_heads; /* grouped-query attention: n_heads / n_kv_heads queries share a key */
    uint32_t vocab_size; /* V */
    uint32_t seq_len;    /* longest context */
    int shared_classifier; /* the output classifier is the token embedding */
    float norm_eps;        /* RMSNorm epsilon, 1e-5 in llama2.c models */
    float rope_theta;      /* RoPE base, 10000 in llama2.c models */
} vkq_llama_config;

/* Offsets in floats into the flat parameter block, which holds the arrays in llama2.c file
 * order. head_size = D / n_heads and KVD = n_kv_heads * head_size. */
typedef struct vkq_llama_layout {
    size_t tok_emb;   /* [V][D] */
    size_t rms_att;   /* [L][D] */
    size_t wq;        /* [L][D][D] */
    size_t wk;        /* [L][KVD][D] */
    size_t wv;        /* [L][KVD][D] */
    size_t wo;        /* [L][D][D] */
    size_t rms_ffn;   /* [L][D] */
    size_t w1;        /* [L][H][D] */
    size_t w2;        /* [L][D][H] */
    size_t w3;        /* [L][H][D] */
    size_t rms_final; /* [D] */
    size_t wcls;      /* [V][D]; equal to tok_emb when the classifier is shared */
    size_t total;     /* floats in the block */
} vkq_llama_layout;

/* Every size positive and within generous limits, n_heads dividing dim into an even head size,
 * n_kv_heads dividing n_heads, positive finite norm_eps and rope_theta. */
vkq_status vkq_llama_config_check(const vkq_llama_config *c);
/* Only for a config that passed vkq_llama_config_check. */
void vkq_llama_layout_of(const vkq_llama_config *c, vkq_llama_layout *out);

/* Reads a llama2.c checkpoint (legacy version-0 layout): 7 int32 dim, hidden_dim, n_layers,
 * n_heads, n_kv_heads, vocab_size (negative: a separate classifier follows), seq_len, then
 * the float32 arrays in layout order with two RoPE tables [seq_len][head_size/2] (skipped)
 * before wcls. *params is malloc'ed and holds layout.total floats; norm_eps and rope_theta
 * get llama2.c's 1e-5 and 10000. The file must be exactly as long as its header implies. */
vkq_status vkq_llama2c_read(const char *path, vkq_llama_config *cfg, float **params);

/* Writes params (layout order) as a llama2.c checkpoint, filling the RoPE tables from
 * rope_theta for older readers that still use them. Atomic: PATH.tmp is written, synced and
 * renamed to PATH, so the file appears complete or not at all. */
vkq_status vkq_llama2c_write(const char *path, const vkq_llama_config *cfg, const float *params);

/* Fresh weights for training from scratch: normal(0, 0.02) matrices (residual projections
 * scaled by 1/sqrt(2 n_layers)), RMSNorm gains 1; deterministic for a seed. */
void vkq_llama_init_random(const vkq_llama_config *c, uint64_t seed, float *params);

#endif
