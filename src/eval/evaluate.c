#include "vkquill/eval.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "vkquill/generate.h"
#include "vkquill/model_file.h"
#include "vkquill/peft.h"

void vkq_eval_config_defaults(vkq_eval_config *c)
{
    memset(c, 0, sizeof *c);
    c->limits = (vkq_prompt_limits){.history_k = 8, .max_prompt_tokens = 384,
                                    .max_target_tokens = 64};
    c->max_new_tokens = 64;
    c->batch = 16;
    c->repetition_penalty = 1.2f;
    c->chat_template = "auto";
}

typedef struct eval_run {
    const vkq_eval_config *c;
    vkq_tokenizer *tok;
    vkq_template tpl;
    vkq_dataset data;
    vkq_llama_config mcfg;
    vkq_decoder *dec;
    char **predictions;
} eval_run;

static vkq_status load(eval_run *r, vkq_ctx *ctx)
{
    const vkq_eval_config *c = r->c;
    vkq_model_file *model;
    VKQ_TRY(vkq_model_file_open(c->model, &model));
    r->mcfg = *vkq_model_file_config(model);
    /* the KV cache needs only the positions a prompt and its continuation reach */
    uint64_t reach = (uint64_t)c->limits.max_prompt_tokens + c->max_new_tokens;
    if (c->limits.max_prompt_tokens && reach < r->mcfg.seq_len)
        r->mcfg.seq_len = (uint32_t)reach;
    vkq_flat_weights flat;
    float *merged;
    vkq_tensor_source weights;
    vkq_status s = vkq_peft_weights(model, c->adapter, &flat, &merged, &weights);
    if (s == VKQ_OK)
        s = vkq_tokenizer_load(vkq_model_tokenizer_path(c->model, c->tokenizer),
                                      r->mcfg.vocab_size, &r->tok);
    if (s == VKQ_OK)
        s = c->template_path ? vkq_template_load(c->template_path, &r->tpl)
                             : vkq_template_default(&r->tpl);
    if (s == VKQ_OK)
        s = vkq_template_use_chat(&r->tpl, r->tok, c->chat_template);
    if (s == VKQ_OK)
        s = vkq_dataset_load_jsonl(c->data, c->skip_bad, &r->data);
    if (s == VKQ_OK)
        s = vkq_decoder_create(ctx, &r->mcfg, &weights, c->batch, &r->dec);
    free(merged);
    vkq_model_file_close(model);
    if (s == VKQ_OK) {
        r->predictions = calloc(r->data.count, sizeof *r->predictions);
        if (!r->predictions)
            s = vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    }
    return s;
}

/* The continuation after the prompt, as text (the target was encoded the same way). */
static vkq_status continuation(const vkq_tokenizer *tok, const vkq_generation *g, char **out)
{
    uint32_t n = g->n_tokens > g->n_prompt ? g->n_tokens - g->n_prompt : 0;
    size_t length = 0;
    vkq_tokenizer_decode_text(tok, g->tokens + g->n_prompt, n, NULL, 0, &length);
    *out = malloc(length + 1);
    if (!*out)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    return vkq_tokenizer_decode_text(tok, g->tokens + g->n_prompt, n, *out, length + 1, NULL);
}

/* A prompt that fills the model's context leaves nothing to generate. */
static vkq_status check_room(const eval_run *r, const vkq_sample *s, uint32_t prompt)
{
    if (prompt < r->mcfg.seq_len)
        return VKQ_OK;
    return vkq_fail(VKQ_ERR_FORMAT,
                    "%s: sample at line %u: the prompt needs %u tokens and the model's context "
                    "is %u, which leaves no room to generate; lower --max-prompt-tokens%s",
                    r->c->data, s->line, prompt, r->mcfg.seq_len,
                    r->c->limits.max_prompt_tokens ? "" : " (0 puts no limit on the prompt)");
}

/* Samples first..first+n-1 in one batch of generation. */
static vkq_status predict_batch(eval_run *r, uint32_t first, uint32_t n)
{
    const vkq_eval_config *c = r->c;
    vkq_pair *pairs = calloc(n, sizeof *pairs);
    const int32_t **prompts = calloc(n, sizeof *prompts);
    uint32_t *lengths = calloc(n, sizeof *lengths), longest = 0;
    vkq_generation *gen = calloc(n, sizeof *gen);
    vkq_status s = pairs && prompts && lengths && gen
                       ? VKQ_OK
                       : vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    for (uint32_t i = 0; i < n && s == VKQ_OK; i++) {
        s = vkq_pair_build(r->tok, &r->tpl, &c->limits, &r->data.samples[first + i], &pairs[i]);
        prompts[i] = c->without_history ? pairs[i].without_history : pairs[i].with_history;
        lengths[i] = c->without_history ? pairs[i].without_prompt : pairs[i].with_prompt;
        longest = lengths[i] > longest ? lengths[i] : longest;
        if (s == VKQ_OK)
            s = check_room(r, &r->data.samples[first + i], lengths[i]);
    }
    uint32_t steps = longest + c->max_new_tokens;
    vkq_sampling sampling = {.steps = steps < r->mcfg.seq_len ? steps : r->mcfg.seq_len,
                             .max_new = c->max_new_tokens, .temperature = 0.0f, .top_p = 1.0f,
                             .repetition_penalty = c->repetition_penalty};
    if (s == VKQ_OK)
        s = vkq_generate_tokens(r->dec, r->tok, prompts, lengths, n, &sampling, gen);
    for (uint32_t i = 0; i < n && s == VKQ_OK; i++)
        s = continuation(r->tok, &gen[i], &r->predictions[first + i]);
    for (uint32_t i = 0; i < n; i++) {
        if (gen)
            vkq_generation_free(&gen[i]);
        if (pairs)
            vkq_pair_free(&pairs[i]);
    }
    free(pairs);
    free(prompts);
    free(lengths);
    free(gen);
    return s;
}

static vkq_status write_lines(const char *path, FILE *f, void *user)
{
    const eval_run *r = user;
    vkq_status s = VKQ_OK;
    for (uint32_t i = 0; i < r->data.count && s == VKQ_OK; i++) {
        const vkq_sample *x = &r->data.samples[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "user", x->user);
        cJSON_AddStringToObject(o, "input", x->input);
        cJSON_AddStringToObject(o, "target", x->target);
        cJSON_AddStringToObject(o, "prediction", r->predictions[i]);
        char *text = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        s = text ? vkq_write_bytes(path, f, text, 1, strlen(text))
                 : vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
        if (s == VKQ_OK)
            s = vkq_write_bytes(path, f, "\n", 1, 1);
        free(text);
    }
    return s;
}

static vkq_status write_text(const char *path, FILE *f, void *user)
{
    return vkq_write_bytes(path, f, user, 1, strlen(user));
}

static vkq_status save(const eval_run *r, const vkq_text_scores *scores)
{
    const char *out = r->c->out;
    VKQ_TRY(vkq_make_dirs(out));
    char path[4096];
    snprintf(path, sizeof path, "%s/predictions.jsonl", out);
    VKQ_TRY(vkq_write_atomic(path, write_lines, (void *)r));
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "model", r->c->model);
    cJSON_AddStringToObject(o, "data", r->c->data);
    cJSON_AddNumberToObject(o, "samples", scores->pairs);
    cJSON_AddNumberToObject(o, "rouge1", scores->rouge1);
    cJSON_AddNumberToObject(o, "rougeL", scores->rougeL);
    cJSON_AddNumberToObject(o, "bleu", scores->bleu);
    cJSON_AddBoolToObject(o, "with_history", !r->c->without_history);
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    if (!text)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    snprintf(path, sizeof path, "%s/metrics.json", out);
    vkq_status s = vkq_write_atomic(path, write_text, text);
    free(text);
    return s;
}

vkq_status vkq_evaluate(vkq_ctx *ctx, const vkq_eval_config *c, vkq_text_scores *scores,
                        vkq_predictions *predictions)
{
    if (!c->model || !vkq_model_tokenizer_path(c->model, c->tokenizer) || !c->data ||
        c->batch == 0)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "eval: --model, --tokenizer and --data are "
                        "required (a model directory is its own tokenizer)");
    eval_run r = {.c = c};
    vkq_status s = load(&r, ctx);
    for (uint32_t first = 0; s == VKQ_OK && first < r.data.count; first += c->batch) {
        uint32_t n = r.data.count - first < c->batch ? r.data.count - first : c->batch;
        s = predict_batch(&r, first, n);
    }
    const char **targets = calloc(r.data.count ? r.data.count : 1, sizeof *targets);
    if (s == VKQ_OK && !targets)
        s = vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    for (uint32_t i = 0; s == VKQ_OK && i < r.data.count; i++)
        targets[i] = r.data.samples[i].target;
    if (s == VKQ_OK)
        s = vkq_score_texts((const char *const *)r.predictions, targets, r.data.count, scores);
    if (s == VKQ_OK && c->out)
        s = save(&r, scores);
    free(targets);
    if (s == VKQ_OK && predictions) {
        predictions->texts = r.predictions;
        predictions->count = r.data.count;
        r.predictions = NULL;
    }
    for (uint32_t i = 0; r.predictions && i < r.data.count; i++)
        free(r.predictions[i]);
    free(r.predictions);
    vkq_decoder_destroy(r.dec);
    vkq_dataset_free(&r.data);
    vkq_template_free(&r.tpl);
    vkq_tokenizer_free(r.tok);
    return s;
}

void vkq_predictions_free(vkq_predictions *p)
{
    for (uint32_t i = 0; i < p->count; i++)
        free(p->texts[i]);
    free(p->texts);
    memset(p, 0, sizeof *p);
}

vkq_status vkq_longest_target_tokens(const vkq_tokenizer *tok, const vkq_dataset *d,
                                     uint32_t *out)
{
    *out = 0;
    for (uint32_t i = 0; i < d->count; i++) {
        size_t length = strlen(d->samples[i].target);
        size_t room = vkq_tokenizer_max_tokens(tok, length); /* enough for any encoding */
        int32_t *ids = room <= UINT32_MAX ? malloc(room * sizeof *ids) : NULL;
        if (!ids)
            return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "cannot encode a target of %zu bytes",
                            length);
        uint32_t n = 0;
        vkq_status s = vkq_tokenizer_encode(tok, d->samples[i].target, 0, 0, ids, (uint32_t)room,
                                            &n);
        free(ids);
        VKQ_TRY(s);
        *out = n > *out ? n : *out;
    }
    return VKQ_OK;
}
