#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/status_internal.h"
#include "cli/cli.h"
#include "vkquill/generate.h"
#include "vkquill/model_file.h"
#include "vkquill/peft.h"

typedef struct generate_args {
    const char *model, *adapter, *tokenizer, *prompt, *prompts_file;
    uint32_t batch;
    vkq_sampling sampling;
} generate_args;

typedef struct prompt_list {
    char **items;
    uint32_t count;
} prompt_list;

static void prompts_free(prompt_list *p)
{
    for (uint32_t i = 0; i < p->count; i++)
        free(p->items[i]);
    free(p->items);
    memset(p, 0, sizeof *p);
}

/* One prompt a line; a trailing newline (and carriage return) is not part of it. */
static vkq_status prompts_read(const char *path, prompt_list *out)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "r");
    if (!f)
        return vkq_fail(VKQ_ERR_IO, "%s: cannot open the prompts file", path);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    vkq_status s = VKQ_OK;
    while (s == VKQ_OK && (len = getline(&line, &cap, f)) >= 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (strlen(line) != (size_t)len) {
            s = vkq_fail(VKQ_ERR_FORMAT, "%s:%u: the line holds a NUL byte", path, out->count + 1);
            break;
        }
        char **grown = realloc(out->items, (out->count + 1) * sizeof *grown);
        if (grown)
            out->items = grown;
        char *copy = grown ? strdup(line) : NULL;
        if (!copy) {
            s = vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
            break;
        }
        out->items[out->count++] = copy;
    }
    free(line);
    fclose(f);
    if (s == VKQ_OK && out->count == 0)
        s = vkq_fail(VKQ_ERR_FORMAT, "%s: the prompts file holds no prompt", path);
    if (s != VKQ_OK)
        prompts_free(out);
    return s;
}

static void print_jsonl(const char *prompt, const vkq_generation *g)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "prompt", prompt);
    cJSON_AddStringToObject(o, "text", g->text);
    uint32_t generated = g->n_tokens > g->n_prompt ? g->n_tokens - g->n_prompt : 0;
    cJSON_AddNumberToObject(o, "generated_tokens", generated);
    cli_emit_json(o);
}

static vkq_status generate_all(vkq_decoder *dec, const vkq_tokenizer *tok, const generate_args *a,
                               const prompt_list *prompts, int jsonl)
{
    vkq_generation *gen = calloc(a->batch, sizeof *gen);
    if (!gen)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    vkq_status s = VKQ_OK;
    for (uint32_t first = 0; first < prompts->count && s == VKQ_OK; first += a->batch) {
        uint32_t n = prompts->count - first < a->batch ? prompts->count - first : a->batch;
        s = vkq_generate(dec, tok, (const char *const *)prompts->items + first, n, &a->sampling,
                         gen);
        for (uint32_t i = 0; i < n && s == VKQ_OK; i++) {
            if (jsonl)
                print_jsonl(prompts->items[first + i], &gen[i]);
            else
                printf("%s\n", gen[i].text);
            vkq_generation_free(&gen[i]);
        }
    }
    free(gen);
    return s;
}

static vkq_status run_generate(const generate_args *a, const prompt_list *prompts, int jsonl)
{
    vkq_model_file *model = NULL;
    vkq_tokenizer *tok = NULL;
    vkq_ctx *ctx = NULL;
    vkq_decoder *dec = NULL;
    vkq_status s = vkq_model_file_open(a->model, &model);
    /* the KV cache needs only the positions generation reaches, not the whole context */
    vkq_llama_config cfg = s == VKQ_OK ? *vkq_model_file_config(model) : (vkq_llama_config){0};
    if (a->sampling.steps < cfg.seq_len)
        cfg.seq_len = a->sampling.steps;
    vkq_flat_weights flat;
    float *merged = NULL;
    vkq_tensor_source weights;
    if (s == VKQ_OK)
        s = vkq_peft_weights(model, a->adapter, &flat, &merged, &weights);
    if (s == VKQ_OK)
        s = vkq_tokenizer_load(vkq_model_tokenizer_path(a->model, a->tokenizer), cfg.vocab_size,
                               &tok);
    if (s == VKQ_OK)
        s = vkq_ctx_create(NULL, &ctx);
    uint32_t seqs = prompts->count < a->batch ? prompts->count : a->batch;
    if (s == VKQ_OK)
        s = vkq_decoder_create(ctx, &cfg, &weights, seqs, &dec);
    free(merged);
    if (s == VKQ_OK)
        s = generate_all(dec, tok, a, prompts, jsonl);
    vkq_decoder_destroy(dec);
    vkq_status d = vkq_ctx_destroy(ctx);
    vkq_tokenizer_free(tok);
    vkq_model_file_close(model);
    return s != VKQ_OK ? s : d;
}

static vkq_status parse(int argc, char **argv, generate_args *a)
{
    *a = (generate_args){.batch = 16,
                         .sampling = {.steps = 256, .temperature = 1.0f, .top_p = 0.9f,
                                      .repetition_penalty = 1.0f, .seed = 42}};
    uint32_t seed = 42;
    cli_option opts[] = {{"--model", CLI_STRING, &a->model},
                         {"--adapter", CLI_STRING, &a->adapter},
                         {"--tokenizer", CLI_STRING, &a->tokenizer},
                         {"--prompt", CLI_TEXT, &a->prompt},
                         {"--prompts-file", CLI_STRING, &a->prompts_file},
                         {"--batch", CLI_U32, &a->batch},
                         {"--steps", CLI_U32, &a->sampling.steps},
                         {"--temperature", CLI_FLOAT, &a->sampling.temperature},
                         {"--top-p", CLI_FLOAT, &a->sampling.top_p},
                         {"--seed", CLI_U32, &seed},
                         {"--repetition-penalty", CLI_FLOAT, &a->sampling.repetition_penalty}};
    VKQ_TRY(cli_parse("generate", argc, argv, 2, opts, sizeof opts / sizeof opts[0]));
    a->sampling.seed = seed;
    if (!a->model || !vkq_model_tokenizer_path(a->model, a->tokenizer))
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "generate: --model and --tokenizer are required "
                        "(a model directory is its own tokenizer)");
    if (!!a->prompt == !!a->prompts_file)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT,
                        "generate: give exactly one of --prompt and --prompts-file");
    if (a->sampling.temperature < 0.0f)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "generate: --temperature must be >= 0");
    if (a->sampling.top_p <= 0.0f || a->sampling.top_p > 1.0f)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "generate: --top-p must be in (0, 1]");
    if (a->sampling.repetition_penalty <= 0.0f)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "generate: --repetition-penalty must be > 0");
    return VKQ_OK;
}

int cmd_generate(int argc, char **argv)
{
    generate_args a;
    vkq_status s = parse(argc, argv, &a);
    if (s != VKQ_OK)
        return cli_fail(s);
    prompt_list prompts = {0};
    if (a.prompts_file) {
        s = prompts_read(a.prompts_file, &prompts);
    } else {
        char *one[] = {(char *)a.prompt};
        prompts.items = one;
        prompts.count = 1;
        s = run_generate(&a, &prompts, 0);
        return s == VKQ_OK ? 0 : cli_fail(s);
    }
    if (s == VKQ_OK)
        s = run_generate(&a, &prompts, 1);
    prompts_free(&prompts);
    return s == VKQ_OK ? 0 : cli_fail(s);
}
