/* Text-generation metrics, computed the way the usual Python packages compute them by default:
 *   ROUGE-1 and ROUGE-L F1 as Google's rouge-score (RougeScorer(['rouge1', 'rougeL'],
 *     use_stemmer=False)): lower-case, every run of characters other than [a-z0-9] is a
 *     separator, unigram overlap with clipped counts / longest common subsequence;
 *   corpus BLEU as sacreBLEU's BLEU() (the 13a tokenizer, n-grams 1..4, 'exp' smoothing,
 *     one reference per prediction), on its 0..100 scale.
 * Inputs are NUL-terminated UTF-8; invalid bytes are tolerated (they count as separators for
 * ROUGE and as ordinary characters for BLEU). */
#ifndef VKQUILL_METRICS_H
#define VKQUILL_METRICS_H

#include <stdint.h>

#include "vkquill/status.h"

#define VKQ_BLEU_MAX_ORDER 4

typedef struct vkq_prf {
    double precision, recall, f1; /* f1 = 2PR / (P + R), 0 when P + R is 0 */
} vkq_prf;

/* ROUGE of one pair. An empty prediction or reference (no tokens) scores 0 throughout. */
typedef struct vkq_rouge_scores {
    vkq_prf rouge1; /* clipped unigram matches / prediction tokens (P), / reference tokens (R) */
    vkq_prf rougeL; /* LCS length / prediction tokens (P), / reference tokens (R) */
} vkq_rouge_scores;

/* Corpus BLEU and the statistics it comes from, as sacreBLEU's BLEUScore reports them. */
typedef struct vkq_bleu {
    double score;                          /* 0..100 */
    double precisions[VKQ_BLEU_MAX_ORDER]; /* percent; 'exp'-smoothed where correct is 0 */
    double brevity_penalty;                /* exp(1 - ref_len / sys_len) when shorter, else 1 */
    uint64_t correct[VKQ_BLEU_MAX_ORDER];  /* clipped n-gram matches summed over the corpus */
    uint64_t total[VKQ_BLEU_MAX_ORDER];    /* prediction n-grams summed over the corpus */
    uint64_t sys_len, ref_len;             /* prediction and reference tokens */
} vkq_bleu;

typedef struct vkq_text_scores {
    double rouge1;  /* mean ROUGE-1 F1 over the pairs, 0..1 (as LaMP reports it) */
    double rougeL;  /* mean ROUGE-L F1 over the pairs, 0..1 */
    double bleu;    /* corpus BLEU, 0..100 */
    uint32_t pairs;
} vkq_text_scores;

/* ROUGE-1 and ROUGE-L of one prediction against its reference (rouge-score's
 * scorer.score(target=reference, prediction=prediction)). */
vkq_status vkq_rouge(const char *prediction, const char *reference, vkq_rouge_scores *out);

/* Corpus BLEU of n >= 1 predictions, predictions[i] against references[i]. */
vkq_status vkq_corpus_bleu(const char *const *predictions, const char *const *references,
                           uint32_t n, vkq_bleu *out);

/* Mean ROUGE-1/ROUGE-L F1 and corpus BLEU of n >= 1 pairs. */
vkq_status vkq_score_texts(const char *const *predictions, const char *const *references,
                           uint32_t n, vkq_text_scores *out);

/* The tokens each metric sees, joined by single spaces, in a string the caller frees with
 * free(): rouge-score's default tokenizer, and sacreBLEU's 13a tokenizer (after its rstrip). */
vkq_status vkq_tokenize_rouge(const char *text, char **out);
vkq_status vkq_tokenize_13a(const char *text, char **out);

#endif
