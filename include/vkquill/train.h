/* The NextQuill trainer: paired passes with and without history in one packed batch, the
 * causal-effect losses, AdamW with warm-up and decay, gradient accumulation and clipping,
 * atomic checkpoints with exact resume, and a JSONL log. Knows nothing of the command line. */
#ifndef VKQUILL_TRAIN_H
#define VKQUILL_TRAIN_H

#include <stdint.h>

#include "vkquill/model.h"
#include "vkquill/runtime.h"

enum { VKQ_PATH_MAX = 1024, VKQ_WORD_MAX = 16 };

/* Every option of a run; the same names serve the JSON configuration file and the flags. */
typedef struct vkq_train_config {
    char model[VKQ_PATH_MAX], tokenizer[VKQ_PATH_MAX], data[VKQ_PATH_MAX], val[VKQ_PATH_MAX];
    char out[VKQ_PATH_MAX], ref_model[VKQ_PATH_MAX], template_path[VKQ_PATH_MAX];
    char method[VKQ_WORD_MAX];   /* sft | mce | dce | nextquill */
    char dce[VKQ_WORD_MAX];      /* dynamic | fixed (needs ref_model) */
    char weights[VKQ_WORD_MAX];  /* "" (the method's own) | threshold | js | uniform */
    char align[VKQ_WORD_MAX];    /* "" (the method's own) | ce | kl (needs ref_model) */
    char schedule[VKQ_WORD_MAX]; /* linear | cosine | constant, after the warm-up */
    char chat_template[VKQ_WORD_MAX]; /* auto | none | chatml | llama3 | inst */
    int align_weighted, skip_bad, resume;
    float alpha, delta, lambda, eps;
    float lr, weight_decay, beta1, beta2, adam_eps, warmup, clip;
    uint32_t steps, batch, accum, seed;
    uint32_t history_k, max_prompt_tokens, max_target_tokens;
    uint32_t log_every, save_every;
    uint32_t probe_every; /* with val: every that many steps (and at the end), the model's own
                             DCE of every val response token goes to out/probe.jsonl */
    uint32_t lora_r;          /* 0: full fine-tuning; else adapters of this rank, base frozen */
    float lora_alpha, lora_dropout;
    char lora_targets[64];    /* "q,v" (default), any of q,k,v,o,gate,up,down, or all-linear */
    char adapter[VKQ_PATH_MAX]; /* a PEFT adapter directory the adapters start from; its r,
                                   lora_alpha and targets are the run's (lora_r 0) or must
                                   equal the run's */
    char recompute[VKQ_WORD_MAX]; /* none | layers: recompute each layer in the backward */
    char base_dtype[VKQ_WORD_MAX]; /* auto | f32 | bf16 | f16: the frozen base on the device
                                      under LoRA; auto is the checkpoint's own dtype */
} vkq_train_config;

void vkq_train_config_defaults(vkq_train_config *c);
/* Sets one option from text; `where` names its source in errors ("--lr", "cfg.json"). */
vkq_status vkq_train_config_set(vkq_train_config *c, const char *key, const char *value,
                                const char *where);
/* Whether key names an option, and whether it is a flag (takes no value on the command line). */
int vkq_train_config_has(const char *key, int *is_flag);
vkq_status vkq_train_config_load(vkq_train_config *c, const char *path);
vkq_status vkq_train_config_check(const vkq_train_config *c);
/* The adapters a configuration asks for (r 0: none), checked; with an adapter, as above. */
vkq_status vkq_train_config_lora(const vkq_train_config *c, vkq_lora_options *out);
/* The base's device dtype: f32 for full fine-tuning, else the one asked for, where auto is the
 * checkpoint's (F32 for llama2.c files). */
vkq_dtype vkq_train_config_base_dtype(const vkq_train_config *c, vkq_dtype checkpoint);
/* A 16-bit base asked for without LoRA is refused. */
vkq_status vkq_train_config_check_base(const vkq_train_config *c);
vkq_status vkq_train_config_save(const vkq_train_config *c, const char *path);

/* The model options of a run whose largest micro-batch has max_tokens tokens and max_rows
 * logit rows, and the device memory it takes on a device of that target: the model's plan,
 * the loss's scratch and the trainer's buffers. A reference model is not counted. stored is
 * the device dtype of the checkpoint's weights (vkq_model_file_device_dtype), what
 * --base-dtype auto keeps. */
vkq_status vkq_train_model_options(const vkq_train_config *c, uint32_t max_tokens,
                                   uint32_t max_rows, vkq_dtype stored, vkq_model_options *o);
vkq_status vkq_train_memory_plan(const vkq_train_config *c, const vkq_llama_config *m,
                                 vkq_dtype stored, uint32_t max_tokens, uint32_t max_rows,
                                 const vkq_scratch_target *target, vkq_memory_plan *plan);
/* The largest micro-batch the limits allow, without data: batch sequences (twice that for the
 * paired methods) of the longest prompt, target and EOS the options and the context allow. */
void vkq_train_batch_limits(const vkq_train_config *c, const vkq_llama_config *m,
                            uint32_t *max_tokens, uint32_t *max_rows);
/* The largest micro-batch of a configuration, as its caller knows it (from data or limits). */
typedef void (*vkq_train_bounds)(const vkq_train_config *c, void *user, uint32_t *max_tokens,
                                 uint32_t *max_rows);
/* Up to three changes (LoRA of rank 8, recompute, smaller batches) that would make the run fit
 * a heap of that many bytes, as flags: "--recompute layers; or --lora-r 8 --batch 2". */
void vkq_train_remedies(const vkq_train_config *c, const vkq_llama_config *m, vkq_dtype stored,
                        vkq_train_bounds bounds, void *user, const vkq_scratch_target *target,
                        uint64_t heap, char *text, size_t size);

/* Progress: once before the first step (step 0, with the device memory plan of the run),
 * then once per optimiser step. */
typedef struct vkq_train_progress {
    uint32_t step, steps;
    double loss, loss_n, loss_p, share_above_delta, grad_norm, lr, tokens_per_s, elapsed_s;
    double tokens; /* the step's tokens over every rank, both passes of a paired method counted */
    vkq_memory_plan memory;
    int memory_only; /* the call before the first step: only memory is meaningful */
    const vkq_model *model; /* the model in training; after a step, vkq_model_download_grads
                               gives that step's gradient (summed over its micro-batches) */
} vkq_train_progress;
typedef void (*vkq_train_observer)(const vkq_train_progress *p, void *user);

/* Runs (or with resume continues) the configured training on ctx. *stop, when it becomes
 * non-zero (e.g. from a SIGINT handler), ends the run after the current step with a
 * checkpoint. */
vkq_status vkq_train_run(vkq_ctx *ctx, const vkq_train_config *c, vkq_train_observer observer,
                         void *user, volatile int *stop);

#endif
