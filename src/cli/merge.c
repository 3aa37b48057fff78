/* vkquill merge: a base model and a PEFT adapter as one model, W + (alpha / r) B A, written in
 * the base's format. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/status_internal.h"
#include "cli/cli.h"
#include "vkquill/peft.h"

static vkq_status merge(const char *model, const char *adapter, const char *out)
{
    vkq_model_file *base;
    VKQ_TRY(vkq_model_file_open(model, &base));
    /* a llama2.c result is OUT itself when OUT already ends in .bin */
    char path[4096], written[4096];
    size_t n = strlen(out);
    int strip = !vkq_model_file_is_hf(base) && n > 4 && strcmp(out + n - 4, ".bin") == 0;
    snprintf(path, sizeof path, "%.*s", (int)(strip ? n - 4 : n), out);
    float *params = NULL;
    vkq_status s = n < sizeof path - 8 ? VKQ_OK
                                       : vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "merge: --out is too "
                                                  "long");
    if (s == VKQ_OK)
        s = vkq_peft_merged_params(base, adapter, &params);
    if (s == VKQ_OK)
        s = vkq_model_file_write_like(base, path, params, written, sizeof written);
    if (s == VKQ_OK)
        printf("%s: %s with %s folded in\n", written, model, adapter);
    free(params);
    vkq_model_file_close(base);
    return s;
}

int cmd_merge(int argc, char **argv)
{
    const char *model = NULL, *adapter = NULL, *out = NULL;
    cli_option opts[] = {{"--model", CLI_STRING, &model},
                         {"--adapter", CLI_STRING, &adapter},
                         {"--out", CLI_STRING, &out}};
    vkq_status s = cli_parse("merge", argc, argv, 2, opts, sizeof opts / sizeof opts[0]);
    if (s == VKQ_OK && (!model || !adapter || !out))
        s = vkq_fail(VKQ_ERR_INVALID_ARGUMENT,
                     "merge: --model BASE, --adapter DIR and --out are required");
    if (s == VKQ_OK)
        s = merge(model, adapter, out);
    return s == VKQ_OK ? 0 : cli_fail(s);
}
