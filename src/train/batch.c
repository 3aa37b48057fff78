#include <stdlib.h>
#include <string.h>

#include "train/train_internal.h"

static void add_sequence(train_batch *b, const int32_t *tokens, uint32_t n)
{
    memcpy(b->tokens + b->n_tokens, tokens, n * sizeof *tokens);
    b->n_tokens += n;
    b->offsets[++b->n_seqs] = (int32_t)b->n_tokens;
}

/* The rows predicting the response: the last prompt token predicts the first target token,
 * ..., the last target token predicts EOS. */
static void add_rows(train_batch *b, uint32_t start, uint32_t prompt, uint32_t n_response)
{
    for (uint32_t i = 0; i < n_response; i++)
        b->rows[b->n_rows++] = (int32_t)(start + prompt - 1 + i);
}

static vkq_status reserve(train_batch *b, uint32_t tokens, uint32_t rows, uint32_t seqs)
{
    if (tokens > b->capacity_tokens) {
        free(b->tokens);
        b->tokens = malloc(tokens * sizeof *b->tokens);
        b->capacity_tokens = b->tokens ? tokens : 0;
    }
    if (rows > b->capacity_rows) {
        free(b->rows);
        free(b->targets);
        b->rows = malloc(rows * sizeof *b->rows);
        b->targets = malloc(rows * sizeof *b->targets);
        b->capacity_rows = b->rows && b->targets ? rows : 0;
    }
    free(b->offsets);
    b->offsets = malloc((seqs + 1) * sizeof *b->offsets);
    if (!b->tokens || !b->rows || !b->targets || !b->offsets)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory building a batch");
    return VKQ_OK;
}

vkq_status train_batch_build(train_batch *b, const vkq_pair *pairs, const uint32_t *which,
                             uint32_t count, int paired)
{
    uint32_t tokens = 0, response = 0;
    for (uint32_t i = 0; i < count; i++) {
        const vkq_pair *p = &pairs[which[i]];
        tokens += p->n_with + (paired ? p->n_without : 0);
        response += p->n_response;
    }
    VKQ_TRY(reserve(b, tokens, paired ? 2 * response : response, paired ? 2 * count : count));
    b->n_tokens = b->n_seqs = b->n_rows = 0;
    b->offsets[0] = 0;
    for (uint32_t i = 0; i < count; i++) {
        const vkq_pair *p = &pairs[which[i]];
        uint32_t start = b->n_tokens;
        add_sequence(b, p->with_history, p->n_with);
        add_rows(b, start, p->with_prompt, p->n_response);
        memcpy(b->targets + b->n_rows - p->n_response, p->with_history + p->with_prompt,
               p->n_response * sizeof *b->targets);
    }
    b->n_response = b->n_rows;
    for (uint32_t i = 0; paired && i < count; i++) {
        const vkq_pair *p = &pairs[which[i]];
        uint32_t start = b->n_tokens;
        add_sequence(b, p->without_history, p->n_without);
        add_rows(b, start, p->without_prompt, p->n_response);
    }
    return VKQ_OK;
}

void train_batch_free(train_batch *b)
{
    free(b->tokens);
    free(b->offsets);
    free(b->rows);
    free(b->targets);
    memset(b, 0, sizeof *b);
}

static int by_size_desc(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x < y) - (x > y);
}

/* The most a batch of `count` samples can hold of these per-sample values. A batch takes the
 * next samples of the epochs' orders, so it may run across epochs: it touches at most
 * ceil((count - 1) / n) + 1 of them and can hold a sample once from each. */
static uint32_t largest_sum(uint32_t *values, uint32_t n, uint32_t count)
{
    if (n == 0 || count == 0)
        return 0;
    qsort(values, n, sizeof *values, by_size_desc);
    uint32_t times = (count - 1 + n - 1) / n + 1, sum = 0;
    for (uint32_t i = 0; i < count && i / times < n; i++)
        sum += values[i / times];
    return sum;
}

void train_batch_bounds(const vkq_pair *pairs, uint32_t n_pairs, uint32_t count, int paired,
                        uint32_t *max_tokens, uint32_t *max_rows)
{
    uint32_t *sizes = malloc((n_pairs ? n_pairs : 1) * sizeof *sizes);
    *max_tokens = *max_rows = 0;
    if (!sizes)
        return;
    for (uint32_t i = 0; i < n_pairs; i++)
        sizes[i] = pairs[i].n_with + (paired ? pairs[i].n_without : 0);
    *max_tokens = largest_sum(sizes, n_pairs, count);
    for (uint32_t i = 0; i < n_pairs; i++)
        sizes[i] = pairs[i].n_response * (paired ? 2 : 1);
    *max_rows = largest_sum(sizes, n_pairs, count);
    free(sizes);
}

static uint64_t splitmix(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void train_epoch_order(uint32_t seed, uint32_t epoch, uint32_t n, uint32_t *order)
{
    uint64_t state = ((uint64_t)seed << 32) ^ epoch;
    for (uint32_t i = 0; i < n; i++)
        order[i] = i;
    for (uint32_t i = n; i > 1; i--) {
        uint32_t j = (uint32_t)(splitmix(&state) % i);
        uint32_t t = order[i - 1];
        order[i - 1] = order[j];
        order[j] = t;
    }
}
