/* vkquill convert: a llama2.c checkpoint to a Hugging Face directory, its q/k rows moved to
 * rotate_half's layout as transformers' convert_llama_weights_to_hf does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/status_internal.h"
#include "base/text.h"
#include "cli/cli.h"
#include "vkquill/hf_model.h"
#include "vkquill/llama2c.h"
#include "vkquill/model_file.h"

static vkq_status dtype_named(const char *name, vkq_st_dtype *out)
{
    static const struct { const char *name; vkq_st_dtype dtype; } names[] = {
        {"f32", VKQ_ST_F32}, {"bf16", VKQ_ST_BF16}, {"f16", VKQ_ST_F16}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(name, names[i].name) == 0) {
            *out = names[i].dtype;
            return VKQ_OK;
        }
    return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "convert: --dtype expects f32, bf16 or f16, got "
                    "'%s'", VKQ_QUOTE(name));
}

static vkq_status convert(const char *model, const char *out, vkq_st_dtype dtype)
{
    if (vkq_model_path_is_dir(model))
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "convert: %s is a directory; --model takes a "
                        "llama2.c checkpoint file", model);
    vkq_llama_config cfg;
    float *params;
    VKQ_TRY(vkq_llama2c_read(model, &cfg, &params));
    vkq_status s = vkq_llama_rope_to_halves(&cfg, params);
    if (s == VKQ_OK)
        s = vkq_hf_model_write(out, &cfg, params, dtype, NULL);
    free(params);
    if (s == VKQ_OK)
        printf("%s: config.json, generation_config.json and model.safetensors (%s)\n", out,
               vkq_st_dtype_name(dtype));
    return s;
}

int cmd_convert(int argc, char **argv)
{
    const char *model = NULL, *out = NULL, *dtype_name = "f32";
    cli_option opts[] = {{"--model", CLI_STRING, &model},
                         {"--out", CLI_STRING, &out},
                         {"--dtype", CLI_STRING, &dtype_name}};
    vkq_status s = cli_parse("convert", argc, argv, 2, opts, sizeof opts / sizeof opts[0]);
    vkq_st_dtype dtype = VKQ_ST_F32;
    if (s == VKQ_OK && (!model || !out))
        s = vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "convert: --model M.bin and --out DIR are "
                     "required");
    if (s == VKQ_OK)
        s = dtype_named(dtype_name, &dtype);
    if (s == VKQ_OK)
        s = convert(model, out, dtype);
    return s == VKQ_OK ? 0 : cli_fail(s);
}
