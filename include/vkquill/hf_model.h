/* Hugging Face model directories read into and written from the model description:
 * config.json, generation_config.json, and model.safetensors or an index with its shards. */
#ifndef VKQUILL_HF_MODEL_H
#define VKQUILL_HF_MODEL_H

#include "vkquill/hf_config.h"
#include "vkquill/llama.h"
#include "vkquill/safetensors.h"

typedef struct vkq_hf_model vkq_hf_model;

/* Reads config.json into the description (refusing, in one line naming the field and its
 * value, what vkquill does not run), takes the end-of-sequence ids from
 * generation_config.json when it names any, and checks that the safetensors hold exactly the
 * tensors of the description with their shapes, in F32, F16 or BF16. The weights stay in the
 * mapped files until read. A context longer than a sliding attention window is cut to the
 * window, where such attention equals full causal attention. */
vkq_status vkq_hf_model_open(const char *dir, vkq_hf_model **out);
/* The description of a parsed config.json alone (path names it in messages), as
 * vkq_hf_model_open makes it before generation_config.json. */
vkq_status vkq_hf_config_describe(const char *path, const vkq_hf_config *h, vkq_llama_config *c);
void vkq_hf_model_close(vkq_hf_model *m);
const vkq_llama_config *vkq_hf_model_config(const vkq_hf_model *m);
/* The dtype the weights are stored in (the token embedding's). */
vkq_st_dtype vkq_hf_model_dtype(const vkq_hf_model *m);
/* Converts to fp32 as it reads; valid while m is open. */
vkq_tensor_source vkq_hf_model_weights(vkq_hf_model *m);

/* Writes params (tensor-table order) as a directory transformers loads: model.safetensors in
 * dtype (shards past 2 GiB), config.json and generation_config.json. With base (a Hugging Face
 * directory the description came from), config.json is the base's with torch_dtype set to
 * dtype, and generation_config.json and the tokenizer files are copied; without, both are
 * written from the description. The directory appears complete or not at all; an existing
 * one is replaced only when it holds a config.json. */
vkq_status vkq_hf_model_write(const char *dir, const vkq_llama_config *c, const float *params,
                              vkq_st_dtype dtype, const char *base);

#endif
