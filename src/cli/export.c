/* vkquill export gguf: a Hugging Face model directory as one GGUF file for llama.cpp and
 * ollama. */
#include <stdio.h>
#include <string.h>

#include "base/status_internal.h"
#include "base/text.h"
#include "cli/cli.h"
#include "vkquill/gguf.h"

static vkq_status export_gguf(int argc, char **argv)
{
    const char *model = NULL, *out = NULL, *type = NULL;
    cli_option opts[] = {{"--model", CLI_STRING, &model},
                         {"--out", CLI_STRING, &out},
                         {"--type", CLI_STRING, &type}};
    VKQ_TRY(cli_parse("export gguf", argc, argv, 3, opts, sizeof opts / sizeof opts[0]));
    if (!model || !out)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT,
                        "export gguf: --model DIR and --out FILE.gguf are required");
    vkq_gguf_export_options options = {.type_given = type != NULL};
    if (type)
        VKQ_TRY(vkq_gguf_type_parse(type, &options.type));
    VKQ_TRY(vkq_gguf_export(model, out, &options));
    printf("%s: written from %s\n", out, model);
    return VKQ_OK;
}

int cmd_export(int argc, char **argv)
{
    vkq_status s;
    if (argc < 3)
        s = vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "export: name a format: gguf");
    else if (strcmp(argv[2], "gguf") == 0)
        s = export_gguf(argc, argv);
    else
        s = vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "export: unknown format '%s' (gguf)",
                     VKQ_QUOTE(argv[2]));
    return s == VKQ_OK ? 0 : cli_fail(s);
}
