/* Evaluation: greedy generation with each user's history (as the NextQuill authors evaluate:
 * repetition penalty 1.2), then ROUGE-1, ROUGE-L and BLEU against the real targets. */
#ifndef VKQUILL_EVAL_H
#define VKQUILL_EVAL_H

#include "vkquill/data.h"
#include "vkquill/metrics.h"
#include "vkquill/runtime.h"

typedef struct vkq_eval_config {
    const char *model, *tokenizer, *data, *out, *template_path;
    const char *adapter; /* NULL, or a PEFT adapter directory folded into the model */
    const char *chat_template; /* auto | none | chatml | llama3 | inst */
    vkq_prompt_limits limits;
    uint32_t max_new_tokens, batch;
    float repetition_penalty;
    int without_history; /* prompts with the no-history placeholder instead */
    int skip_bad;
} vkq_eval_config;

void vkq_eval_config_defaults(vkq_eval_config *c);

/* Predictions of every sample, in data order; free with vkq_predictions_free. */
typedef struct vkq_predictions {
    char **texts;
    uint32_t count;
} vkq_predictions;

/* Scores the data set; with out set, writes out/predictions.jsonl and out/metrics.json. When
 * predictions is not NULL it receives the generated texts. */
vkq_status vkq_evaluate(vkq_ctx *ctx, const vkq_eval_config *c, vkq_text_scores *scores,
                        vkq_predictions *predictions);
void vkq_predictions_free(vkq_predictions *p);

/* The most tokens any target of d takes, encoded as a response is (without EOS): a
 * max_new_tokens that lets every target be generated whole. */
vkq_status vkq_longest_target_tokens(const vkq_tokenizer *tok, const vkq_dataset *d,
                                     uint32_t *out);

#endif
