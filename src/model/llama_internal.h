/* Private to src/model: what the description shares with its file formats. */
#ifndef VKQ_MODEL_LLAMA_INTERNAL_H
#define VKQ_MODEL_LLAMA_INTERNAL_H

#include "vkquill/llama.h"

/* Saturating size arithmetic: SIZE_MAX stands for "overflowed". */
size_t vkq_size_mul(size_t a, size_t b);
size_t vkq_size_add(size_t a, size_t b);
/* The tensor table of any config, even an unchecked one; returns the total (SIZE_MAX when it
 * overflows). */
size_t vkq_llama_tensors_saturating(const vkq_llama_config *c, vkq_llama_tensors *out);
/* Writes what is wrong with c into msg; returns 0 when nothing is. */
int vkq_llama_config_problem(const vkq_llama_config *c, char *msg, size_t capacity);

#endif
