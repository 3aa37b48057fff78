#include <stdio.h>
#include <string.h>

#include "base/status_internal.h"
#include "cli/cli.h"
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

int cmd_data(int argc, char **argv)
{
    vkq_status s;
    if (argc < 3)
        s = vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "data: name a subcommand: synth");
    else if (strcmp(argv[2], "synth") == 0)
        s = data_synth(argc, argv);
    else
        s = vkq_fail(VKQ_ERR_INVALID_ARGUMENT,
                     "data: unknown subcommand '%s'; 'vkquill help' lists them", argv[2]);
    return s == VKQ_OK ? 0 : cli_fail(s);
}
