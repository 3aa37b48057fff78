#include <stdio.h>

#include "base/status_internal.h"
#include "cli/cli.h"
#include "vkquill/eval.h"

int cmd_eval(int argc, char **argv)
{
    vkq_eval_config c;
    vkq_eval_config_defaults(&c);
    int json = 0;
    cli_option opts[] = {{"--model", CLI_STRING, &c.model},
                         {"--adapter", CLI_STRING, &c.adapter},
                         {"--tokenizer", CLI_STRING, &c.tokenizer},
                         {"--data", CLI_STRING, &c.data},
                         {"--out", CLI_STRING, &c.out},
                         {"--template", CLI_STRING, &c.template_path},
                         {"--chat-template", CLI_STRING, &c.chat_template},
                         {"--history-k", CLI_U32, &c.limits.history_k},
                         {"--max-prompt-tokens", CLI_U32, &c.limits.max_prompt_tokens},
                         {"--max-new-tokens", CLI_U32, &c.max_new_tokens},
                         {"--batch", CLI_U32, &c.batch},
                         {"--repetition-penalty", CLI_FLOAT, &c.repetition_penalty},
                         {"--without-history", CLI_FLAG, &c.without_history},
                         {"--skip-bad", CLI_FLAG, &c.skip_bad},
                         {"--json", CLI_FLAG, &json}};
    vkq_status s = cli_parse("eval", argc, argv, 2, opts, sizeof opts / sizeof opts[0]);
    if (s != VKQ_OK)
        return cli_fail(s);
    if (!(c.repetition_penalty > 0.0f))
        return cli_fail(vkq_fail(VKQ_ERR_INVALID_ARGUMENT,
                                 "eval: --repetition-penalty must be > 0"));
    vkq_chat_format format;
    int is_auto;
    s = vkq_chat_format_parse(c.chat_template, &format, &is_auto);
    if (s != VKQ_OK)
        return cli_fail(s);
    vkq_ctx *ctx;
    s = vkq_ctx_create(NULL, &ctx);
    if (s != VKQ_OK)
        return cli_fail(s);
    vkq_text_scores scores;
    s = vkq_evaluate(ctx, &c, &scores, NULL);
    vkq_status d = vkq_ctx_destroy(ctx);
    if (s == VKQ_OK)
        s = d;
    if (s != VKQ_OK)
        return cli_fail(s);
    if (json)
        printf("{\"samples\":%u,\"rouge1\":%.6f,\"rougeL\":%.6f,\"bleu\":%.4f}\n", scores.pairs,
               scores.rouge1, scores.rougeL, scores.bleu);
    else
        printf("%u samples: ROUGE-1 %.4f  ROUGE-L %.4f  BLEU %.2f%s%s\n", scores.pairs,
               scores.rouge1, scores.rougeL, scores.bleu, c.out ? "; predictions in " : "",
               c.out ? c.out : "");
    return 0;
}
