/* Low-rank adapters (LoRA, Hu et al. 2021) on the linear layers of a frozen base, as PEFT
 * computes them: y = x W^T + (alpha / r) * dropout(x) A^T B^T with A [r][in] and B [out][r].
 * The adapters of a model live in one flat block, apart from the base. */
#ifndef VKQUILL_LORA_H
#define VKQUILL_LORA_H

#include "vkquill/llama.h"

typedef struct vkq_lora_options {
    uint32_t r;      /* rank; 0: no adapters, every parameter trains */
    float alpha;     /* the adapter's output is scaled by alpha / r */
    float dropout;   /* on the adapter's input, while training */
    uint32_t targets; /* bit 1u << id for each adapted linear vkq_tensor_id */
} vkq_lora_options;

/* Where each target's A and B stacks lie in the adapter block, in floats: layer l's A is
 * [r][in] at a[id] + l r in, its B [out][r] at b[id] + l out r (in, out: the base weight's
 * cols and rows). Targets follow vkq_lora_target order: q, k, v, o, gate, up, down. */
typedef struct vkq_lora_layout {
    size_t a[VKQ_TENSOR_COUNT], b[VKQ_TENSOR_COUNT];
    size_t total;
} vkq_lora_layout;

enum { VKQ_LORA_TARGET_COUNT = 7 };
/* The i-th target (i < VKQ_LORA_TARGET_COUNT): its short name ("q", ..., "down"), its tensor
 * and its Hugging Face module path ("self_attn.q_proj", ..., "mlp.down_proj"). */
const char *vkq_lora_target_name(unsigned i);
vkq_tensor_id vkq_lora_target_tensor(unsigned i);
const char *vkq_lora_target_module(unsigned i);
/* "q,v", "q,k,v,o,gate,up,down" or "all-linear"; one clear message for anything else. */
vkq_status vkq_lora_parse_targets(const char *list, uint32_t *targets);
/* Checks r, alpha, dropout and targets (r > 0 needs a target, dropout in [0, 1)). */
vkq_status vkq_lora_check(const vkq_lora_options *o);
static inline float vkq_lora_scale(const vkq_lora_options *o) { return o->alpha / (float)o->r; }

void vkq_lora_layout_of(const vkq_llama_config *c, const vkq_lora_options *o,
                        vkq_lora_layout *out);
/* PEFT's initialisation: A uniform in [-1/sqrt(in), 1/sqrt(in)] (kaiming_uniform_ with
 * a = sqrt(5)), B zero; deterministic for a seed. */
void vkq_lora_init(const vkq_llama_config *c, const vkq_lora_options *o, uint64_t seed,
                   float *adapter);
/* Folds the adapters into fp32 base weights: W += (alpha / r) B A, for every target. */
void vkq_lora_merge(const vkq_llama_config *c, const vkq_lora_options *o, const float *adapter,
                    float *params);

#endif
