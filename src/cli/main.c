#include <stdio.h>
#include <string.h>

#include "base/status_internal.h"
#include "cli/cli.h"

static const char usage[] =
    "usage: vkquill <command> [options]\n"
    "\n"
    "commands:\n"
    "  devices [--json]                 list Vulkan devices and what they support\n"
    "  selftest [--kernel NAME] [--variant cpu|gpu] [--list] [--json]\n"
    "                                   check every kernel against its C reference\n"
    "  bench matmul [--m M --n N --k K] [--form nn|nt|tn] [--batch B] [--runs R] [--json]\n"
    "                                   matrix-product GFLOP/s and dispatch overheads\n"
    "  generate --model M.bin --tokenizer T.bin (--prompt TEXT | --prompts-file F)\n"
    "           [--steps N] [--temperature T] [--top-p P] [--seed S]\n"
    "           [--repetition-penalty R] [--batch B]\n"
    "                                   continue prompts (temperature 0: greedy); a prompts\n"
    "                                   file (one a line) gives JSON lines\n"
    "  help                             this text\n"
    "\n"
    "environment:\n"
    "  VKQ_DEVICE=<index|name>  device to use      VKQ_VARIANT=cpu|gpu  kernel variant\n"
    "  VKQ_VALIDATE=1           Vulkan validation  VKQ_PROFILE=1        per-kernel times\n";

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage, stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        fputs(usage, stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0) {
        puts("vkquill 0.1.0");
        return 0;
    }
    if (strcmp(cmd, "devices") == 0)
        return cmd_devices(argc, argv);
    if (strcmp(cmd, "selftest") == 0)
        return cmd_selftest(argc, argv);
    if (strcmp(cmd, "bench") == 0)
        return cmd_bench(argc, argv);
    if (strcmp(cmd, "generate") == 0)
        return cmd_generate(argc, argv);
    return cli_fail(vkq_fail(VKQ_ERR_INVALID_ARGUMENT,
                             "unknown command '%s'; 'vkquill help' lists the commands", cmd));
}
