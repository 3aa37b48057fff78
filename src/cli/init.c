#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "base/status_internal.h"
#include "cli/cli.h"
#include "vkquill/llama2c.h"
#include "vkquill/tokenizer.h"

/* vkquill init: a randomly initialised model with a byte-level tokenizer, to train from
 * scratch (the synthetic benchmark, tests). */
static vkq_status init_model(const char *out, const vkq_llama_config *c, uint32_t seed)
{
    VKQ_TRY(vkq_llama_config_check(c));
    VKQ_TRY(vkq_make_dirs(out));
    vkq_llama_tensors tensors;
    vkq_llama_tensors_of(c, &tensors);
    float *params = malloc(tensors.total * sizeof *params);
    if (!params)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    vkq_llama_init_random(c, seed, params);
    char path[4096];
    snprintf(path, sizeof path, "%s/model.bin", out);
    vkq_status s = vkq_llama2c_write(path, c, params);
    free(params);
    snprintf(path, sizeof path, "%s/tokenizer.bin", out);
    if (s == VKQ_OK)
        s = vkq_tokenizer_write_byte_level(path);
    if (s == VKQ_OK)
        printf("%s/model.bin: %zu parameters (dim %u, hidden %u, %u layers, %u heads, %u kv "
               "heads, vocab %u, context %u); %s\n",
               out, tensors.total, c->dim, c->hidden_dim, c->n_layers, c->n_heads, c->n_kv_heads,
               c->vocab_size, c->seq_len, path);
    return s;
}

int cmd_init(int argc, char **argv)
{
    const char *out = NULL;
    uint32_t seed = 1;
    vkq_llama_config c = {.dim = 64, .hidden_dim = 172, .n_layers = 4, .n_heads = 8,
                          .n_kv_heads = 4, .vocab_size = VKQ_BYTE_TOKENIZER_VOCAB,
                          .seq_len = 512, .shared_classifier = 1, .norm_eps = 1e-5f,
                          .rope_theta = 10000.0f};
    cli_option opts[] = {{"--out", CLI_STRING, &out},        {"--dim", CLI_U32, &c.dim},
                         {"--hidden", CLI_U32, &c.hidden_dim}, {"--layers", CLI_U32, &c.n_layers},
                         {"--heads", CLI_U32, &c.n_heads},   {"--kv-heads", CLI_U32, &c.n_kv_heads},
                         {"--seq-len", CLI_U32, &c.seq_len}, {"--seed", CLI_U32, &seed}};
    vkq_status s = cli_parse("init", argc, argv, 2, opts, sizeof opts / sizeof opts[0]);
    if (s == VKQ_OK && !out)
        s = vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "init: --out DIR is required");
    if (s == VKQ_OK)
        s = init_model(out, &c, seed);
    return s == VKQ_OK ? 0 : cli_fail(s);
}
