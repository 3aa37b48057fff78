/* A model on disk, whatever its format: a directory is a Hugging Face model (hf_model.h), a
 * file a llama2.c checkpoint (llama2c.h). Every command opens models through this. */
#ifndef VKQUILL_MODEL_FILE_H
#define VKQUILL_MODEL_FILE_H

#include "vkquill/llama.h"
#include "vkquill/safetensors.h"

typedef struct vkq_model_file vkq_model_file;

vkq_status vkq_model_file_open(const char *path, vkq_model_file **out);
void vkq_model_file_close(vkq_model_file *m);
const vkq_llama_config *vkq_model_file_config(const vkq_model_file *m);
/* Valid while m is open. */
vkq_tensor_source vkq_model_file_weights(vkq_model_file *m);
int vkq_model_file_is_hf(const vkq_model_file *m);
/* The dtype of the stored weights (F32 for llama2.c). */
vkq_st_dtype vkq_model_file_dtype(const vkq_model_file *m);
/* The device dtype that keeps them as stored: BF16 or F16 for 16-bit weights, else F32 (what
 * --base-dtype auto gives a frozen base). */
vkq_dtype vkq_model_file_device_dtype(const vkq_model_file *m);
/* Whether path names a directory (a Hugging Face model) rather than a file. */
int vkq_model_path_is_dir(const char *path);
/* The tokenizer to load: the one given (not NULL or empty), else a model directory's own
 * tokenizer.json (the directory itself), else NULL. */
const char *vkq_model_tokenizer_path(const char *model, const char *tokenizer);

/* Writes params of the same description in m's format: for a Hugging Face model a directory
 * at path with m's config, generation config and tokenizer files and its dtype, for a llama2.c
 * checkpoint a file at path. The output's name, path + ".bin" or path itself, goes to written
 * (of size bytes). */
vkq_status vkq_model_file_write_like(const vkq_model_file *m, const char *path,
                                     const float *params, char *written, size_t size);

#endif
