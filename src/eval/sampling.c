/* One decoding step's choice of token from the logits: the repetition penalty, then greedy or
 * temperature with nucleus (top-p) sampling. */
#include <math.h>
#include <stdlib.h>

#include "base/status_internal.h"
#include "vkquill/generate.h"

static int32_t argmax(const float *x, uint32_t n)
{
    uint32_t best = 0;
    for (uint32_t i = 1; i < n; i++)
        if (x[i] > x[best])
            best = i;
    return (int32_t)best;
}

vkq_status vkq_penalise_repeats(float *logits, uint32_t vocab, const int32_t *tokens, uint32_t n,
                                float penalty)
{
    uint8_t *penalised = calloc(vocab ? vocab : 1, 1);
    if (!penalised)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    for (uint32_t i = 0; i < n; i++) {
        int32_t t = tokens[i];
        if (t < 0 || (uint32_t)t >= vocab || penalised[t])
            continue;
        penalised[t] = 1;
        logits[t] = logits[t] > 0 ? logits[t] / penalty : logits[t] * penalty;
    }
    free(penalised);
    return VKQ_OK;
}

typedef struct prob_index {
    float p;
    int32_t i;
} prob_index;

static int by_probability_desc(const void *a, const void *b)
{
    const prob_index *x = a, *y = b;
    if (x->p != y->p)
        return (x->p < y->p) - (x->p > y->p);
    return (x->i > y->i) - (x->i < y->i); /* ties: lower id first, whatever qsort does */
}

static vkq_status sample_nucleus(float *logits, uint32_t vocab, float temperature, float top_p,
                                 float u, int32_t *out)
{
    float max = logits[argmax(logits, vocab)], sum = 0.0f;
    for (uint32_t i = 0; i < vocab; i++) {
        logits[i] = expf((logits[i] - max) / temperature);
        sum += logits[i];
    }
    prob_index *order = malloc((vocab ? vocab : 1) * sizeof *order);
    if (!order)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    for (uint32_t i = 0; i < vocab; i++)
        order[i] = (prob_index){logits[i] / sum, (int32_t)i};
    qsort(order, vocab, sizeof *order, by_probability_desc);
    float cut = top_p > 0.0f && top_p < 1.0f ? top_p : 1.0f, mass = 0.0f;
    uint32_t keep = 0;
    while (keep < vocab && (mass < cut || cut == 1.0f))
        mass += order[keep++].p;
    float r = u * mass, acc = 0.0f;
    *out = order[keep - 1].i;
    for (uint32_t i = 0; i < keep; i++) {
        acc += order[i].p;
        if (r < acc) {
            *out = order[i].i;
            break;
        }
    }
    free(order);
    return VKQ_OK;
}

vkq_status vkq_sample_token(float *logits, uint32_t vocab, float temperature, float top_p,
                            float u, int32_t *out)
{
    if (vocab == 0 || !(temperature >= 0.0f) || !(u >= 0.0f && u < 1.0f))
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT,
                        "sampling needs a vocabulary, a temperature >= 0 and a draw in [0, 1)");
    if (temperature == 0.0f) {
        *out = argmax(logits, vocab);
        return VKQ_OK;
    }
    return sample_nucleus(logits, vocab, temperature, top_p, u, out);
}
