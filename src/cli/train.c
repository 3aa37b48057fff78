#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/status_internal.h"
#include "base/text.h"
#include "cli/cli.h"
#include "vkquill/dist.h"
#include "vkquill/train.h"

static volatile int stop_requested;

static void on_interrupt(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* --max-prompt-tokens -> max_prompt_tokens */
static void option_key(const char *flag, char *key, size_t size)
{
    snprintf(key, size, "%s", flag + 2);
    for (char *p = key; *p; p++)
        if (*p == '-')
            *p = '_';
}

/* The configuration file first (wherever --config stands), then the flags in order. */
static vkq_status parse(int argc, char **argv, vkq_train_config *c)
{
    vkq_train_config_defaults(c);
    for (int i = 2; i < argc; i++)
        if (strcmp(argv[i], "--config") == 0) {
            if (i + 1 >= argc)
                return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "train: --config needs a value");
            VKQ_TRY(vkq_train_config_load(c, argv[i + 1]));
        }
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0) {
            i++;
            continue;
        }
        char key[64];
        int is_flag = 0;
        if (strncmp(argv[i], "--", 2) != 0)
            return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "train: unexpected argument '%s'",
                            VKQ_QUOTE(argv[i]));
        if (strlen(argv[i]) >= sizeof key + 2)
            return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "train: option '%s' is too long to be one; "
                            "see 'vkquill help'", VKQ_QUOTE(argv[i]));
        option_key(argv[i], key, sizeof key);
        if (!vkq_train_config_has(key, &is_flag))
            return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "train: unknown option '%s'; see 'vkquill "
                            "help'", VKQ_QUOTE(argv[i]));
        if (!is_flag && i + 1 >= argc)
            return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "train: %s needs a value", argv[i]);
        VKQ_TRY(vkq_train_config_set(c, key, is_flag ? "true" : argv[i + 1], argv[i]));
        i += !is_flag;
    }
    return vkq_train_config_check(c);
}

static void show_progress(const vkq_train_progress *p, void *user)
{
    int tty = *(int *)user;
    if (p->memory_only) {
        char parts[320];
        vkq_memory_plan_describe(&p->memory, parts, sizeof parts);
        fprintf(stderr, "device memory: %s\n", parts);
        return;
    }
    double eta = p->step ? p->elapsed_s / p->step * (p->steps - p->step) : 0;
    if (tty) {
        int width = 24, filled = (int)((double)width * p->step / p->steps);
        fprintf(stderr, "\r[%.*s%*s] %u/%u loss %.4f (n %.4f, p %.4f) %.0f tok/s ETA %.0fs ",
                filled, "########################", width - filled, "", p->step, p->steps,
                p->loss, p->loss_n, p->loss_p, p->tokens_per_s, eta);
        if (p->step == p->steps)
            fputc('\n', stderr);
    } else if (p->step == 1 || p->step % 10 == 0 || p->step == p->steps) {
        fprintf(stderr, "step %u/%u loss %.4f loss_n %.4f loss_p %.4f grad_norm %.3f lr %.3g "
                "%.0f tok/s\n", p->step, p->steps, p->loss, p->loss_n, p->loss_p, p->grad_norm,
                p->lr, p->tokens_per_s);
    }
}

int cmd_train(int argc, char **argv)
{
    vkq_train_config c;
    vkq_status s = parse(argc, argv, &c);
    if (s == VKQ_OK)
        s = vkq_dist_start();
    if (s != VKQ_OK)
        return cli_fail(s);
    vkq_ctx *ctx;
    s = cli_rank_context(&ctx);
    if (s != VKQ_OK)
        return cli_fail(s);
    int tty = isatty(STDERR_FILENO), root = vkq_dist_rank() == 0;
    signal(SIGINT, on_interrupt);
    s = vkq_train_run(ctx, &c, root ? show_progress : NULL, &tty, &stop_requested);
    signal(SIGINT, SIG_DFL);
    vkq_status d = vkq_ctx_destroy(ctx);
    if (s == VKQ_OK)
        s = d;
    if (s != VKQ_OK)
        return cli_fail(s);
    vkq_dist_stop();
    if (stop_requested && root)
        fprintf(stderr, "vkquill: interrupted; saved %s/checkpoint.bin, continue with --resume\n",
                c.out);
    return stop_requested ? 130 : 0;
}
