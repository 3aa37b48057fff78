/* GGUF version 3, the file format of llama.cpp and ollama: a writer, and the export of a
 * Hugging Face model directory to it.
 *
 * Layout, little-endian: "GGUF", u32 version 3, u64 tensor count, u64 key-value count; the
 * key-value pairs (string key, u32 value type, value; strings are u64 length + bytes, arrays
 * u32 element type + u64 count + elements); per tensor its string name, u32 dimension count,
 * u64 dimensions (ggml order: the fastest-varying first, so PyTorch's shape reversed), u32
 * ggml type and u64 offset into the data section; zero padding to the alignment; the data
 * section, each tensor starting at a multiple of the alignment. */
#ifndef VKQUILL_GGUF_H
#define VKQUILL_GGUF_H

#include <stddef.h>
#include <stdint.h>

#include "vkquill/status.h"

enum { VKQ_GGUF_VERSION = 3, VKQ_GGUF_ALIGNMENT = 32, VKQ_GGUF_MAX_DIMS = 4 };

/* ggml's tensor types that vkquill writes. */
typedef enum vkq_gguf_type { VKQ_GGUF_F32 = 0, VKQ_GGUF_F16 = 1, VKQ_GGUF_BF16 = 30 } vkq_gguf_type;

/* "f32", "f16" or "bf16"; anything else fails naming the choices. */
vkq_status vkq_gguf_type_parse(const char *name, vkq_gguf_type *out);
const char *vkq_gguf_type_name(vkq_gguf_type type);
size_t vkq_gguf_type_size(vkq_gguf_type type);

/* A file being put together: key-value pairs in the order added, then tensor infos. */
typedef struct vkq_gguf vkq_gguf;

vkq_status vkq_gguf_new(vkq_gguf **out);
void vkq_gguf_free(vkq_gguf *g);

vkq_status vkq_gguf_add_string(vkq_gguf *g, const char *key, const char *value);
vkq_status vkq_gguf_add_u32(vkq_gguf *g, const char *key, uint32_t value);
vkq_status vkq_gguf_add_f32(vkq_gguf *g, const char *key, float value);
vkq_status vkq_gguf_add_bool(vkq_gguf *g, const char *key, int value);
vkq_status vkq_gguf_add_strings(vkq_gguf *g, const char *key, const char *const *values,
                                size_t n);
vkq_status vkq_gguf_add_i32s(vkq_gguf *g, const char *key, const int32_t *values, size_t n);
vkq_status vkq_gguf_add_f32s(vkq_gguf *g, const char *key, const float *values, size_t n);

/* Bytes of a tensor made on demand: fill(user, first byte, buffer, bytes) is called with
 * consecutive pieces of its data. */
typedef vkq_status (*vkq_gguf_fill)(void *user, uint64_t offset, void *buffer, size_t size);

/* dims in ggml order (dims[0] is the length of a row). The name is copied. */
vkq_status vkq_gguf_add_tensor(vkq_gguf *g, const char *name, int n_dims, const uint64_t *dims,
                               vkq_gguf_type type, vkq_gguf_fill fill, void *user);

/* Written to path.tmp, fsynced, renamed over path, and the directory synced; on failure path
 * is untouched and no temporary file is left. */
vkq_status vkq_gguf_write(const vkq_gguf *g, const char *path);

/* The export of a Hugging Face directory (config.json, model.safetensors or shards with their
 * index, tokenizer.json, and tokenizer_config.json when there) as llama.cpp's converter lays
 * such a model out: architecture "llama" (Llama 2/3, SmolLM2, Mistral; q and k rows moved
 * from Hugging Face's rotate_half halves back to interleaved pairs), "qwen2" or "qwen3",
 * the tokenizer as "gpt2" (byte-level BPE) or "llama" (SentencePiece-style BPE), 1-D tensors
 * in F32 and matrices in `type`. Tensors stream from the safetensors files in pieces. */
typedef struct vkq_gguf_export_options {
    vkq_gguf_type type;
    int type_given; /* 0: the type of the weights in config.json's torch_dtype */
} vkq_gguf_export_options;

vkq_status vkq_gguf_export(const char *model_dir, const char *out_path,
                           const vkq_gguf_export_options *options);

#endif
