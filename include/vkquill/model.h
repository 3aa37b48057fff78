/* A Llama-family model on a Vulkan device: parameters, gradients and AdamW state in flat
 * blocks (llama2.c order), activations for one packed batch, and forward / backward recorded
 * as kernel launches. Knows nothing of NextQuill: it computes logits at the rows a caller
 * asks for, and the loss gradient arrives as dlogits at those rows. */
#ifndef VKQUILL_MODEL_H
#define VKQUILL_MODEL_H

#include "vkquill/llama.h"
#include "vkquill/lora.h"
#include "vkquill/kernels.h"
#include "vkquill/nn.h"
#include "vkquill/runtime.h"

typedef struct vkq_model vkq_model;

/* A packed variable-length batch: sequences concatenated, offsets[seqs + 1] marks them;
 * rows are the token positions whose logits are wanted (distinct, each < tokens). */
typedef struct vkq_batch {
    const int32_t *tokens;
    uint32_t n_tokens;
    const int32_t *offsets;
    uint32_t n_seqs;
    const int32_t *rows;
    uint32_t n_rows;
} vkq_batch;

typedef struct vkq_model_options {
    uint32_t max_tokens; /* largest batch, in tokens */
    uint32_t max_rows;   /* largest number of logit rows */
    int training;        /* allocate gradients, optimiser state and backward workspace */
    vkq_lora_options lora; /* r > 0: the base is frozen and only the adapters train */
    int recompute;       /* keep only each layer's input; the backward recomputes the layer */
    /* Under LoRA, the frozen base's matrices (linear weights, embedding, classifier) on the
     * device: F32, or BF16 / F16 (two bytes a weight, read in 16 bits by the kernels; norms and
     * biases stay F32). Full fine-tuning keeps fp32 master weights: F32 only. */
    vkq_dtype base_dtype;
} vkq_model_options;

/* The device memory a model (and whoever adds to the plan) takes at its largest batch, in
 * bytes, by part: the base weights in their dtype, the adapters, gradients, AdamW moments,
 * activations (all kept, or one layer's under recompute), the classifier's input and logits at
 * the logit rows, the loss's buffers, the kernels' scratch, and what rounding every buffer up to
 * its footprint adds. total is their sum, what vkq_ctx_memory_peak measures; reserved is total
 * in whole memory blocks, what the device's heap must hold. */
typedef struct vkq_memory_plan {
    uint64_t weights, adapter, gradients, optimizer, activations, logits, loss, scratch;
    uint64_t rounding, total, reserved;
    uint64_t own_blocks, shared_blocks; /* footprints of buffers above and up to a block */
} vkq_memory_plan;

/* The plan of a model made with these options on a device of that target, one recording's
 * scratch included: the forward, loss_scratch bytes (what the loss takes between forward and
 * backward; 0: none), and when training the backward and AdamW. It is computed from the table
 * that sizes the model's buffers; fails where the model cannot be laid out in the device's
 * bindings. */
vkq_status vkq_model_memory_plan(const vkq_llama_config *cfg, const vkq_model_options *o,
                                 const vkq_scratch_target *target, uint64_t loss_scratch,
                                 vkq_memory_plan *plan);
/* Adds a buffer of that many bytes to one part of the plan (a field of it). */
void vkq_memory_plan_add(vkq_memory_plan *plan, uint64_t *part, uint64_t bytes);
enum { VKQ_MEMORY_PARTS = 9 };
/* The parts in order, weights to rounding, with their names ("weights", "optimiser", ...). */
void vkq_memory_plan_parts(const vkq_memory_plan *plan, const char *names[VKQ_MEMORY_PARTS],
                           uint64_t bytes[VKQ_MEMORY_PARTS]);
/* "123.4 MiB (weights 1.0, ..., rounding 0.1)": the total and the nonzero parts, into text. */
void vkq_memory_plan_describe(const vkq_memory_plan *plan, char *text, size_t size);
/* The heap a device's buffers come from: its largest device-local heap (or its only one). */
uint64_t vkq_memory_heap_for(const vkq_device_info *d);
/* The tensor table of the device copy: vkq_llama_tensors_of, stored as o->base_dtype; the
 * plan counts the base's weights in these dtypes. */
void vkq_model_tensors(const vkq_llama_config *cfg, const vkq_model_options *o,
                       vkq_llama_tensors *out);
/* Refuses, with the plan in the message, when the plan exceeds the device's largest heap. The
 * weights are uploaded from the source in pieces. */
vkq_status vkq_model_create(vkq_ctx *ctx, const vkq_llama_config *cfg,
                            const vkq_tensor_source *weights, const vkq_model_options *o,
                            vkq_model **out);
void vkq_model_destroy(vkq_model *m);
const vkq_llama_config *vkq_model_config(const vkq_model *m);

/* Uploads a batch's tokens, per-token sequence starts and rows. */
vkq_status vkq_model_set_batch(vkq_model *m, const vkq_batch *batch);
/* Records the forward; logits [n_rows][vocab] land in vkq_model_logits. */
vkq_status vkq_model_forward(vkq_model *m, vkq_rec *rec);
vkq_buf vkq_model_logits(const vkq_model *m);
/* The buffer the caller fills with dL/dlogits [n_rows][vocab] before the backward (it may be
 * the logits buffer itself, overwritten by a loss kernel). */
vkq_buf vkq_model_dlogits(const vkq_model *m);
/* Records the weighted softmax cross-entropy at the batch's rows (targets int32 [n_rows],
 * weights and losses [n_rows], device buffers of the caller): losses[r] = weights[r] *
 * CE(logits[r], targets[r]); the gradient overwrites the logits, ready for the backward. */
vkq_status vkq_model_loss(vkq_model *m, vkq_rec *rec, vkq_buf targets, vkq_buf weights,
                          vkq_buf losses);
/* Records zeroing of all gradients. */
vkq_status vkq_model_zero_grads(vkq_model *m, vkq_rec *rec);
/* Records the backward from dlogits; parameter gradients accumulate. */
vkq_status vkq_model_backward(vkq_model *m, vkq_rec *rec);

/* The trainable block: the adapters under LoRA (vkq_lora_layout order), else the base
 * parameters (layout order). Its floats: */
uint64_t vkq_model_trainable_floats(const vkq_model *m);
vkq_status vkq_model_download_trainable(vkq_model *m, float *values);
vkq_status vkq_model_upload_trainable(vkq_model *m, const float *values);
/* Under LoRA: whether the forward adds the adapters (off: the frozen base alone, e.g. as the
 * reference of a fixed DCE), and whether their dropout is on, with the mask of this key (a
 * training micro-batch's; evaluation runs without dropout). */
void vkq_model_set_adapter(vkq_model *m, int enabled);
void vkq_model_set_dropout(vkq_model *m, int on, uint32_t key);
/* Records global-norm clipping and one AdamW step; hyper is a device vkq_adamw_hyper. */
vkq_status vkq_model_adamw(vkq_model *m, vkq_rec *rec, vkq_buf hyper);
vkq_buf vkq_model_grad_sumsq(const vkq_model *m);

/* The flat blocks (parameters, gradients and AdamW state; the adapters' apart) live in pieces
 * of memory, each within one binding of the device; the host sees them in the layout order of
 * llama.h. The number of pieces of the base parameters: */
uint32_t vkq_model_pieces(const vkq_model *m);
/* Parameters to and from the host (layout order), e.g. to resume or save a checkpoint. */
vkq_status vkq_model_upload_params(vkq_model *m, const float *params);
vkq_status vkq_model_download_params(vkq_model *m, float *params);
/* The accumulated gradients of the trainable block (its order). */
vkq_status vkq_model_download_grads(const vkq_model *m, float *grads);
/* The same gradients where they lie: pieces of device memory (the zero padding between slices
 * included), e.g. to sum them in place over several processes. */
uint32_t vkq_model_grad_pieces(const vkq_model *m);
vkq_buf vkq_model_grad_piece(const vkq_model *m, uint32_t i);
/* AdamW's first and second moments of the trainable block, for checkpoints and resuming. */
vkq_status vkq_model_download_moments(vkq_model *m, float *first, float *second);
vkq_status vkq_model_upload_moments(vkq_model *m, const float *first, const float *second);

#endif

/* Incremental decoding with a KV cache, for generation: up to max_seqs sequences advance in
 * lockstep, each by one or more tokens per step at its own positions (< seq_len of the config). */
typedef struct vkq_decoder vkq_decoder;

vkq_status vkq_decoder_create(vkq_ctx *ctx, const vkq_llama_config *cfg,
                              const vkq_tensor_source *weights, uint32_t max_seqs,
                              vkq_decoder **out);
void vkq_decoder_destroy(vkq_decoder *d);
const vkq_llama_config *vkq_decoder_config(const vkq_decoder *d);
/* The most rows a step takes: at least max_seqs. */
uint32_t vkq_decoder_max_rows(const vkq_decoder *d);
/* Feeds tokens[i] at positions[i] to the sequence in cache slot slots[i] (< max_seqs; position
 * 0 starts it afresh) for the n rows i (n <= max rows), and writes their next-token logits,
 * [n][vocab]. Rows of one slot hold consecutive positions, each after what the slot holds. */
vkq_status vkq_decoder_step(vkq_decoder *d, const int32_t *slots, const int32_t *tokens,
                            const int32_t *positions, uint32_t n, float *logits);
