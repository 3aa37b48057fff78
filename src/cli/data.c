#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/status_internal.h"
#include "base/text.h"
#include "cli/cli.h"
#include "vkquill/data.h"
#include "vkquill/synth.h"

/* vkquill data synth: the synthetic personalization benchmark (see vkquill/synth.h). */
static vkq_status data_synth(int argc, char **argv)
{
    const char *out = NULL;
    uint32_t users = 24, per_user = 12, seed = 1;
    cli_option opts[] = {{"--out", CLI_STRING, &out},
                         {"--users", CLI_U32, &users},
                         {"--per-user", CLI_U32, &per_user},
                         {"--seed", CLI_U32, &seed}};
    VKQ_TRY(cli_parse("data synth", argc, argv, 3, opts, sizeof opts / sizeof opts[0]));
    if (!out)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "data synth: --out DIR is required");
    vkq_synth_options o = {users, per_user, seed};
    VKQ_TRY(vkq_synth_write(&o, out));
    uint32_t train = users * (per_user - 2);
    printf("%s/train.jsonl: %u samples (%u a user)\n", out, train, per_user - 2);
    printf("%s/val.jsonl: %u samples (one a user)\n", out, users);
    printf("%s/test.jsonl: %u samples (one a user)\n", out, users);
    printf("%s/truth.jsonl: %u lines (the preferences and preference-bearing bytes of every "
           "target; %u users, %u items each, seed %u)\n",
           out, train + 2 * users, users, per_user, seed);
    return VKQ_OK;
}

typedef struct convert_args {
    const char *lamp[2]; /* questions, outputs */
    const char *text, *out;
    int skip_bad;
} convert_args;

/* Takes "--lamp QUESTIONS OUTPUTS" out of argv[3..) (cli_parse reads one value an option) and
 * leaves the other arguments in rest. */
static vkq_status take_lamp(int argc, char **argv, convert_args *a, char **rest, int *n_rest)
{
    *n_rest = 0;
    for (int i = 3; i < argc; i++) {
        if (strcmp(argv[i], "--lamp") != 0) {
            rest[(*n_rest)++] = argv[i];
            continue;
        }
        if (a->lamp[0])
            return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "data convert: --lamp given twice");
        if (i + 2 >= argc || strncmp(argv[i + 1], "--", 2) == 0 ||
            strncmp(argv[i + 2], "--", 2) == 0)
            return vkq_fail(VKQ_ERR_INVALID_ARGUMENT,
                            "data convert: --lamp needs two files: QUESTIONS.json OUTPUTS.json");
        a->lamp[0] = argv[++i];
        a->lamp[1] = argv[++i];
    }
    return VKQ_OK;
}

static vkq_status parse_convert(int argc, char **argv, convert_args *a)
{
    char **rest = malloc((size_t)argc * sizeof *rest);
    if (!rest)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "data convert: out of memory");
    int n_rest = 0;
    cli_option opts[] = {{"--text", CLI_STRING, &a->text},
                         {"--out", CLI_STRING, &a->out},
                         {"--skip-bad", CLI_FLAG, &a->skip_bad}};
    vkq_status s = take_lamp(argc, argv, a, rest, &n_rest);
    if (s == VKQ_OK)
        s = cli_parse("data convert", n_rest, rest, 0, opts, sizeof opts / sizeof opts[0]);
    free(rest);
    return s;
}

static vkq_status check_convert(const convert_args *a)
{
    if (!a->lamp[0] == !a->text)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "data convert: give exactly one of "
                        "--lamp QUESTIONS.json OUTPUTS.json and --text FILE.txt");
    if (!a->out)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "data convert: --out FILE.jsonl is required");
    if (a->text && a->skip_bad)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT,
                        "data convert: --skip-bad applies to --lamp only");
    return VKQ_OK;
}

/* vkquill data convert: LaMP / LongLaMP or plain text as native JSONL (see vkquill/data.h). */
static vkq_status data_convert(int argc, char **argv)
{
    convert_args a = {0};
    VKQ_TRY(parse_convert(argc, argv, &a));
    VKQ_TRY(check_convert(&a));
    vkq_dataset d;
    VKQ_TRY(a.text ? vkq_dataset_load_text(a.text, &d)
                   : vkq_dataset_load_lamp(a.lamp[0], a.lamp[1], a.skip_bad, &d));
    vkq_status s = vkq_dataset_write_jsonl(&d, a.out);
    if (s == VKQ_OK && a.text)
        printf("%s: %u samples written (one a paragraph of %s)\n", a.out, d.count, a.text);
    else if (s == VKQ_OK)
        printf("%s: %u samples written, %u bad questions skipped\n", a.out, d.count, d.skipped);
    vkq_dataset_free(&d);
    return s;
}

int cmd_data(int argc, char **argv)
{
    vkq_status s;
    if (argc < 3)
        s = vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "data: name a subcommand: synth or convert");
    else if (strcmp(argv[2], "synth") == 0)
        s = data_synth(argc, argv);
    else if (strcmp(argv[2], "convert") == 0)
        s = data_convert(argc, argv);
    else
        s = vkq_fail(VKQ_ERR_INVALID_ARGUMENT,
                     "data: unknown subcommand '%s'; 'vkquill help' lists them",
                     VKQ_QUOTE(argv[2]));
    return s == VKQ_OK ? 0 : cli_fail(s);
}
