/* The device memory of a training run: the model's plan, the trainer's own buffers and its
 * loss's scratch; and what to change when a run would not fit. */
#include <stdio.h>
#include <string.h>

#include "train/train_internal.h"
#include "vkquill/causal_loss.h"

void train_buffer_sizes(uint32_t max_rows, uint64_t out[TRAIN_BUFS])
{
    uint64_t r = max_rows;
    const uint64_t sizes[TRAIN_BUFS] = {
        4 * r,                   /* targets (int32) */
        4 * r,                   /* weights */
        4 * r,                   /* losses */
        4 * r,                   /* dce */
        16 * r,                  /* stats [r][4] */
        16,                      /* totals [4] */
        sizeof(vkq_adamw_hyper), /* hyper */
        vkq_causal_loss_work_bytes(max_rows), /* loss_work: a loss shared with other ranks */
        4 * VKQ_CAUSAL_SUMS,                  /* loss_sums */
    };
    memcpy(out, sizes, sizeof sizes);
}

vkq_status vkq_train_model_options(const vkq_train_config *c, uint32_t max_tokens,
                                   uint32_t max_rows, vkq_dtype stored, vkq_model_options *o)
{
    *o = (vkq_model_options){.max_tokens = max_tokens, .max_rows = max_rows, .training = 1,
                             .recompute = strcmp(c->recompute, "layers") == 0,
                             .base_dtype = vkq_train_config_base_dtype(c, stored)};
    VKQ_TRY(vkq_train_config_check_base(c));
    return vkq_train_config_lora(c, &o->lora);
}

vkq_status vkq_train_memory_plan(const vkq_train_config *c, const vkq_llama_config *m,
                                 vkq_dtype stored, uint32_t max_tokens, uint32_t max_rows,
                                 const vkq_scratch_target *target, vkq_memory_plan *plan)
{
    vkq_model_options o;
    VKQ_TRY(vkq_train_model_options(c, max_tokens, max_rows, stored, &o));
    int paired = strcmp(c->method, "sft") != 0;
    /* sft sums the losses of the rows; the paired methods' loss keeps a record per response */
    uint64_t loss_scratch = paired ? vkq_causal_loss_scratch(max_rows / 2)
                                   : vkq_reduce_scratch(target, max_rows);
    VKQ_TRY(vkq_model_memory_plan(m, &o, target, loss_scratch, plan));
    uint64_t sizes[TRAIN_BUFS];
    train_buffer_sizes(max_rows, sizes);
    for (int i = 0; i < TRAIN_BUFS; i++)
        vkq_memory_plan_add(plan, &plan->loss, sizes[i]);
    return VKQ_OK;
}

void vkq_train_batch_limits(const vkq_train_config *c, const vkq_llama_config *m,
                            uint32_t *max_tokens, uint32_t *max_rows)
{
    uint64_t seq = (uint64_t)c->max_prompt_tokens + c->max_target_tokens + 1; /* + EOS */
    seq = seq < m->seq_len ? seq : m->seq_len;
    uint64_t response = (uint64_t)c->max_target_tokens + 1;
    response = response < seq ? response : seq;
    uint64_t passes = strcmp(c->method, "sft") != 0 ? 2 : 1;
    *max_tokens = (uint32_t)(passes * c->batch * seq);
    *max_rows = (uint32_t)(passes * c->batch * response);
}

/* One change to a configuration that would not fit. */
typedef struct remedy {
    const char *flags;
    uint32_t lora_r, batch;
    int recompute;
} remedy;

static int fits_with(const vkq_train_config *c, const vkq_llama_config *m, vkq_dtype stored,
                     const remedy *r,
                     vkq_train_bounds bounds, void *user, const vkq_scratch_target *target,
                     uint64_t heap)
{
    vkq_train_config alt = *c;
    if (r->lora_r)
        alt.lora_r = r->lora_r;
    if (r->recompute)
        strcpy(alt.recompute, "layers");
    if (r->batch)
        alt.batch = r->batch;
    uint32_t tokens, rows;
    bounds(&alt, user, &tokens, &rows);
    vkq_memory_plan p;
    return vkq_train_memory_plan(&alt, m, stored, tokens, rows, target, &p) == VKQ_OK &&
           p.reserved <= heap;
}

void vkq_train_remedies(const vkq_train_config *c, const vkq_llama_config *m, vkq_dtype stored,
                        vkq_train_bounds bounds, void *user, const vkq_scratch_target *target,
                        uint64_t heap, char *text, size_t size)
{
    remedy tries[16];
    uint32_t n = 0;
    char names[16][64];
    for (uint32_t b = c->batch; b >= 1 && n < 14; b /= 2) {
        uint32_t batch = b == c->batch ? 0 : b;
        for (int lora = 0; lora <= (c->lora_r ? 0 : 1); lora++)
            for (int rec = 0; rec <= (strcmp(c->recompute, "layers") ? 1 : 0); rec++) {
                if (!batch && !lora && !rec)
                    continue;
                snprintf(names[n], sizeof names[n], "%s%s%s%.0u", lora ? "--lora-r 8 " : "",
                         rec ? "--recompute layers " : "", batch ? "--batch " : "", batch);
                tries[n] = (remedy){names[n], lora ? 8 : 0, batch, rec};
                n++;
            }
        if (b == 1)
            break;
    }
    size_t used = 0;
    int found = 0;
    text[0] = 0;
    for (uint32_t i = 0; i < n && found < 3 && used < size; i++)
        if (fits_with(c, m, stored, &tries[i], bounds, user, target, heap)) {
            size_t len = strlen(tries[i].flags);
            while (len && tries[i].flags[len - 1] == ' ')
                len--;
            used += (size_t)snprintf(text + used, size - used, "%s%.*s", found ? "; or " : "",
                                     (int)len, tries[i].flags);
            found++;
        }
    if (!found)
        snprintf(text, size, "no smaller batch, LoRA or recompute setting fits");
}
