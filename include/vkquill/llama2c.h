/* llama2.c checkpoints (legacy version-0 layout), read into and written from the model
 * description. */
#ifndef VKQUILL_LLAMA2C_H
#define VKQUILL_LLAMA2C_H

#include "vkquill/llama.h"

/* Reads a llama2.c checkpoint: 7 int32 dim, hidden_dim, n_layers, n_heads, n_kv_heads,
 * vocab_size (negative: a separate classifier follows), seq_len, then the float32 arrays in
 * tensor-table order with two RoPE tables [seq_len][head_size/2] (skipped) before wcls.
 * *params is malloc'ed and holds the table's total floats. The description gets llama2.c's
 * fixed choices: head_dim dim / n_heads, interleaved RoPE pairs with theta 10000 and no
 * scaling, norm_eps 1e-5, no biases or q/k norms, bos 1 and eos 2 (its tokenizer's). The
 * file must be exactly as long as its header implies, or 16 bytes longer with the checksum
 * trailer vkquill writes ("vkqxxh64", then the XXH64 of every byte before it), which must
 * then match. */
vkq_status vkq_llama2c_read(const char *path, vkq_llama_config *cfg, float **params);

/* The same file mapped read-only, its weights read tensor by tensor from the mapping. Open
 * reads only the header (and the trailer's magic); a checksum trailer is checked against the
 * whole file before the first weight is read, which then fails on a mismatch. */
typedef struct vkq_llama2c_file vkq_llama2c_file;
vkq_status vkq_llama2c_open(const char *path, vkq_llama2c_file **out);
void vkq_llama2c_close(vkq_llama2c_file *f);
const vkq_llama_config *vkq_llama2c_config(const vkq_llama2c_file *f);
/* Valid while f is open. */
vkq_tensor_source vkq_llama2c_weights(vkq_llama2c_file *f);

/* Writes params (tensor-table order) as a llama2.c checkpoint, filling the RoPE tables from
 * rope_theta for older readers that still use them, and the checksum trailer (llama2.c's
 * run.c and other readers of the layout ignore it); refuses a description the format cannot
 * hold (own head_dim, RoPE halves or scaling, biases, q/k norms). Atomic: PATH.tmp is
 * written, synced and renamed to PATH, so the file appears complete or not at all. */
vkq_status vkq_llama2c_write(const char *path, const vkq_llama_config *cfg, const float *params);

#endif
