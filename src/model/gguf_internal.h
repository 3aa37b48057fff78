/* What the GGUF export's model and tokenizer halves share. */
#ifndef VKQ_MODEL_GGUF_INTERNAL_H
#define VKQ_MODEL_GGUF_INTERNAL_H

#include "vkquill/gguf.h"
#include "vkquill/hf_config.h"

/* The tokenizer of model directory dir as tokenizer.ggml.* and tokenizer.chat_template pairs,
 * with c->vocab_size entries (ids without a token become unused "[PADi]" entries). */
vkq_status vkq_gguf_add_vocab(vkq_gguf *g, const char *dir, const vkq_hf_config *c);

#endif
