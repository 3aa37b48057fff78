/* PEFT LoRA adapter directories, as peft's save_pretrained writes them: adapter_config.json
 * and adapter_model.safetensors with base_model.model.model.layers.N.<module>.lora_A.weight
 * [r][in] and .lora_B.weight [out][r]. They are read into and written from the adapter block
 * of lora.h. The rows of A and B follow the base model's own layout: for a llama2.c base the
 * query and key rows keep its interleaved RoPE order. */
#ifndef VKQUILL_PEFT_H
#define VKQUILL_PEFT_H

#include "vkquill/lora.h"
#include "vkquill/model_file.h"

typedef struct vkq_peft_adapter {
    vkq_lora_options lora; /* r, lora_alpha, lora_dropout and target_modules of the config */
    float *values;         /* the adapter block, vkq_lora_layout order */
} vkq_peft_adapter;

/* The tensor name of target i's (vkq_lora_target order) A (which 'A') or B ('B') in layer l:
 * "base_model.model.model.layers.3.self_attn.q_proj.lora_A.weight". 0 when it does not fit. */
int vkq_peft_tensor_name(unsigned i, uint32_t l, char which, char *name, size_t size);

/* adapter_config.json alone: refuses (one line naming the directory and the field) what is not
 * plain LoRA: another peft_type, an invalid r or lora_alpha, use_rslora, use_dora, a bias other
 * than "none", fan_in_fan_out, per-layer patterns, modules_to_save, and target modules other
 * than the seven linear layers of a Llama block. */
vkq_status vkq_peft_read_config(const char *dir, vkq_lora_options *out);
/* The config and the tensors for a model of description c: every target's A and B for every
 * layer, F32, F16 or BF16 of the right shape, and nothing else. */
vkq_status vkq_peft_read(const char *dir, const vkq_llama_config *c, vkq_peft_adapter *out);
void vkq_peft_free(vkq_peft_adapter *a);

/* Writes the adapter block as a directory in fp32; base_model becomes base_model_name_or_path.
 * The directory appears complete or not at all; an existing one is replaced only when it holds
 * an adapter_config.json. */
vkq_status vkq_peft_write(const char *dir, const vkq_llama_config *c, const vkq_lora_options *o,
                          const float *adapter, const char *base_model);

/* The base's weights with the adapter at dir folded in, (alpha / r) B A added to each target,
 * as a new malloc'ed flat block. */
vkq_status vkq_peft_merged_params(vkq_model_file *base, const char *dir, float **params);
/* The weights to run: the base's own when dir is NULL or empty, else the merged block, which
 * *merged receives (free it once the weights are uploaded) and flat describes. */
vkq_status vkq_peft_weights(vkq_model_file *base, const char *dir, vkq_flat_weights *flat,
                            float **merged, vkq_tensor_source *out);

#endif
