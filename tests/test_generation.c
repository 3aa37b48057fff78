/* Greedy generation with the real stories260K model, batched over prompts of different
 * lengths, against the token sequences that an independent PyTorch implementation of
 * llama2.c's run.c produced (tools/make_generation_expected.py): as read, after its q/k rows
 * move to Hugging Face's RoPE layout, and converted to a Hugging Face directory (as `vkquill
 * convert` does) and loaded from it. Skipped (exit 77) when ../shared/models is absent. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"
#include "vkquill/generate.h"
#include "vkquill/hf_model.h"
#include "vkquill/llama2c.h"
#include "vkquill/model_file.h"

#define MODEL VKQ_MODELS_DIR "/stories260K.bin"
#define TOKENIZER VKQ_MODELS_DIR "/tok512.bin"
#define EXPECTED VKQ_SOURCE_DIR "/tests/data/stories260K_generation.json"

static int compare_case(const cJSON *c, const vkq_generation *g)
{
    const cJSON *tokens = cJSON_GetObjectItem(c, "tokens");
    const char *text = cJSON_GetObjectItem(c, "text")->valuestring;
    const char *prompt = cJSON_GetObjectItem(c, "prompt")->valuestring;
    int n = cJSON_GetArraySize(tokens), ok = n == (int)g->n_tokens;
    for (int i = 0; ok && i < n; i++)
        ok = cJSON_GetArrayItem(tokens, i)->valueint == g->tokens[i];
    ok = ok && strcmp(text, g->text) == 0;
    printf("%s prompt \"%s\": %u tokens, \"%s\"\n", ok ? "ok  " : "FAIL", prompt, g->n_tokens,
           g->text);
    if (!ok)
        printf("     expected %d tokens, \"%s\"\n", n, text);
    return ok;
}

typedef enum form { AS_READ, HALVES, HF_DIR } form;
static const char *const form_names[] = {"llama2.c model:",
                                         "model moved to rotate_half RoPE pairs:",
                                         "model converted to a Hugging Face directory:"};

/* The model in one form: weights from the mapped file, from the permuted block, or from the
 * directory the permuted block was written to (removed again once opened). */
typedef struct loaded {
    vkq_model_file *file;
    vkq_llama_config cfg;
    float *params;
    vkq_flat_weights flat;
    vkq_tensor_source weights;
} loaded;

static int load(form f, loaded *m)
{
    memset(m, 0, sizeof *m);
    if (f == AS_READ) {
        if (vkq_model_file_open(MODEL, &m->file) != VKQ_OK)
            return 0;
        m->cfg = *vkq_model_file_config(m->file);
        m->weights = vkq_model_file_weights(m->file);
        return 1;
    }
    if (vkq_llama2c_read(MODEL, &m->cfg, &m->params) != VKQ_OK ||
        vkq_llama_rope_to_halves(&m->cfg, m->params) != VKQ_OK)
        return 0;
    m->weights = vkq_flat_source(&m->flat, &m->cfg, m->params);
    if (f == HALVES)
        return 1;
    char dir[TEST_DIR_SIZE];
    if (test_make_temp_dir(dir, "generation") != 0)
        return 0;
    const char *model = test_path(dir, "hf");
    int ok = vkq_hf_model_write(model, &m->cfg, m->params, VKQ_ST_F32, NULL) == VKQ_OK &&
             vkq_model_file_open(model, &m->file) == VKQ_OK;
    test_remove_tree(dir);
    if (ok) {
        m->cfg = *vkq_model_file_config(m->file);
        m->weights = vkq_model_file_weights(m->file);
    }
    return ok;
}

static void unload(loaded *m)
{
    vkq_model_file_close(m->file);
    free(m->params);
}

static int run(const cJSON *cases, vkq_ctx *ctx, form f)
{
    loaded m;
    vkq_tokenizer *tok = NULL;
    vkq_decoder *dec = NULL;
    int n = cJSON_GetArraySize(cases), failed = 0;
    const char **prompts = calloc((size_t)n, sizeof *prompts);
    vkq_generation *gen = calloc((size_t)n, sizeof *gen);
    uint32_t steps = 0;
    for (int i = 0; i < n; i++) {
        const cJSON *c = cJSON_GetArrayItem(cases, i);
        prompts[i] = cJSON_GetObjectItem(c, "prompt")->valuestring;
        uint32_t s = (uint32_t)cJSON_GetObjectItem(c, "steps")->valueint;
        steps = s > steps ? s : steps;
    }
    printf("%s\n", form_names[f]);
    if (!load(f, &m) || vkq_tokenizer_load(TOKENIZER, m.cfg.vocab_size, &tok) != VKQ_OK ||
        vkq_decoder_create(ctx, &m.cfg, &m.weights, (uint32_t)n, &dec) != VKQ_OK) {
        fprintf(stderr, "%s\n", vkq_last_error());
        failed = 1;
    }
    /* Cases differ in steps: generate each case's own length in its own batch of one, then
     * all cases together at the longest length, where each must still start the same way. */
    for (int i = 0; !failed && i < n; i++) {
        const cJSON *c = cJSON_GetArrayItem(cases, i);
        vkq_sampling s = {.steps = (uint32_t)cJSON_GetObjectItem(c, "steps")->valueint,
                          .temperature = 0.0f, .top_p = 1.0f, .repetition_penalty = 1.0f};
        if (vkq_generate(dec, tok, &prompts[i], 1, &s, &gen[i]) != VKQ_OK) {
            fprintf(stderr, "%s\n", vkq_last_error());
            failed = 1;
            break;
        }
        failed |= !compare_case(c, &gen[i]);
        vkq_generation_free(&gen[i]);
    }
    vkq_sampling all = {.steps = steps, .temperature = 0.0f, .top_p = 1.0f,
                        .repetition_penalty = 1.0f};
    if (!failed && vkq_generate(dec, tok, prompts, (uint32_t)n, &all, gen) != VKQ_OK) {
        fprintf(stderr, "%s\n", vkq_last_error());
        failed = 1;
    }
    for (int i = 0; !failed && i < n; i++) {
        const cJSON *tokens = cJSON_GetObjectItem(cJSON_GetArrayItem(cases, i), "tokens");
        int k = cJSON_GetArraySize(tokens), same = (int)gen[i].n_tokens >= k;
        for (int j = 0; same && j < k; j++)
            same = cJSON_GetArrayItem(tokens, j)->valueint == gen[i].tokens[j];
        printf("%s batched prompt \"%s\" starts with its expected %d tokens\n",
               same ? "ok  " : "FAIL", prompts[i], k);
        failed |= !same;
    }
    for (int i = 0; i < n; i++)
        vkq_generation_free(&gen[i]);
    free(gen);
    free(prompts);
    vkq_decoder_destroy(dec);
    vkq_tokenizer_free(tok);
    unload(&m);
    return failed;
}

int main(void)
{
    if (!test_have_file(MODEL) || !test_have_file(TOKENIZER))
        return TEST_SKIPPED;
    char *json = test_read_file(EXPECTED, NULL);
    cJSON *cases = json ? cJSON_Parse(json) : NULL;
    free(json);
    if (!cJSON_IsArray(cases)) {
        fprintf(stderr, "%s: missing or not a JSON array\n", EXPECTED);
        return 1;
    }
    vkq_ctx *ctx;
    if (vkq_ctx_create(NULL, &ctx) != VKQ_OK) {
        fprintf(stderr, "%s\n", vkq_last_error());
        return 1;
    }
    int failed = run(cases, ctx, AS_READ) | run(cases, ctx, HALVES) | run(cases, ctx, HF_DIR);
    cJSON_Delete(cases);
    if (vkq_ctx_destroy(ctx) != VKQ_OK) {
        fprintf(stderr, "%s\n", vkq_last_error());
        failed = 1;
    }
    printf("%s\n", failed ? "generation differs from the reference" : "all cases match");
    return failed;
}
