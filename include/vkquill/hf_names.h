/* Hugging Face tensor names (model.safetensors of LlamaForCausalLM, MistralForCausalLM,
 * Qwen2ForCausalLM, Qwen3ForCausalLM) of the description's tensors. */
#ifndef VKQUILL_HF_NAMES_H
#define VKQUILL_HF_NAMES_H

#include "vkquill/llama.h"

/* Writes the name of layer l's slice of tensor id (l is ignored for the tensors outside the
 * layers), e.g. "model.layers.3.self_attn.q_proj.weight"; returns 0 when it does not fit. */
int vkq_hf_tensor_name(vkq_tensor_id id, uint32_t l, char *name, size_t size);

/* Calls fn for every tensor slice the model holds, with its Hugging Face name and place in
 * the flat block; stops at the first status that is not VKQ_OK and returns it. A shared
 * classifier has no slice of its own (Hugging Face omits lm_head.weight then). */
typedef vkq_status (*vkq_hf_tensor_fn)(void *user, const char *name, size_t offset,
                                       const vkq_tensor *t);
vkq_status vkq_hf_each_tensor(const vkq_llama_config *c, vkq_hf_tensor_fn fn, void *user);

#endif
