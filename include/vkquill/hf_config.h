/* Hugging Face config.json and generation_config.json for the decoder-only models vkquill
 * runs: LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM and Qwen3ForCausalLM, with the
 * defaults their transformers configuration classes apply. */
#ifndef VKQUILL_HF_CONFIG_H
#define VKQUILL_HF_CONFIG_H

#include <stddef.h>

#include "vkquill/safetensors.h"
#include "vkquill/status.h"

typedef enum vkq_hf_arch {
    VKQ_HF_LLAMA,
    VKQ_HF_MISTRAL,
    VKQ_HF_QWEN2,
    VKQ_HF_QWEN3
} vkq_hf_arch;

enum { VKQ_HF_MAX_EOS = 8 };

/* Special token ids, from config.json or generation_config.json. */
typedef struct vkq_hf_tokens {
    int bos_token_id, pad_token_id; /* -1 when absent */
    int eos_token_ids[VKQ_HF_MAX_EOS];
    int n_eos;
} vkq_hf_tokens;

typedef struct vkq_hf_config {
    vkq_hf_arch arch;
    int hidden_size, intermediate_size, num_hidden_layers;
    int num_attention_heads, num_key_value_heads; /* kv defaults to the head count */
    int head_dim;      /* config's, else Qwen3's 128, else hidden_size / heads */
    int vocab_size, max_position_embeddings;
    double rms_norm_eps; /* default 1e-6 */
    double rope_theta;   /* default 10000 */
    /* rope_scaling {"rope_type": "llama3", ...}; rope_llama3 0 means no scaling */
    int rope_llama3;
    double rope_factor, rope_low_freq_factor, rope_high_freq_factor;
    int rope_original_max_position_embeddings;
    int tie_word_embeddings;
    /* Resolved per architecture: Llama and Qwen3 put attention_bias on q, k, v and o; Qwen2
     * always has q, k and v biases and none on o; Mistral has none. */
    int qkv_bias, o_bias;
    int qk_norm; /* Qwen3: an RMSNorm over each head of q and k */
    /* The attention window when some layer uses one, else 0: Mistral's sliding_window, and
     * Qwen2/3's when use_sliding_window is on and a layer from max_window_layers up exists. */
    int sliding_window;
    vkq_st_dtype torch_dtype; /* torch_dtype (or dtype): the dtype to write back in */
    vkq_hf_tokens tokens;
} vkq_hf_config;

/* Reads and checks path; every bad field gives one line naming the file, the field and the
 * value. */
vkq_status vkq_hf_config_load(const char *path, vkq_hf_config *out);
/* The same from text already in memory; path only names it in messages. */
vkq_status vkq_hf_config_parse(const char *path, const char *text, size_t length,
                               vkq_hf_config *out);

/* Sliding-window attention differs from full causal attention only where a sequence is longer
 * than the window: refuses a config whose window is smaller than context (tokens). */
vkq_status vkq_hf_config_check_context(const vkq_hf_config *c, const char *path, int context);

const char *vkq_hf_arch_name(vkq_hf_arch arch);

/* generation_config.json's token ids (eos_token_id an integer or a list of them). */
vkq_status vkq_hf_generation_load(const char *path, vkq_hf_tokens *out);
vkq_status vkq_hf_generation_parse(const char *path, const char *text, size_t length,
                                   vkq_hf_tokens *out);

#endif
