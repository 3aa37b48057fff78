/* Two-way percentile bootstrap over seeds and items (see vkquill/bootstrap.h). */
#include <math.h>
#include <stdlib.h>

#include "base/random.h"
#include "base/status_internal.h"
#include "vkquill/bootstrap.h"

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The q-quantile of sorted[0..n), interpolating between neighbours. */
static double quantile(const double *sorted, uint32_t n, double q)
{
    double at = q * (n - 1);
    uint32_t below = (uint32_t)floor(at);
    uint32_t above = below + 1 < n ? below + 1 : below;
    return sorted[below] + (at - below) * (sorted[above] - sorted[below]);
}

static double resampled_mean(const double *scores, uint32_t n_seeds, uint32_t n_items,
                             uint32_t *items, uint64_t *rng)
{
    for (uint32_t i = 0; i < n_items; i++)
        items[i] = vkq_random_below(rng, n_items);
    double sum = 0;
    for (uint32_t k = 0; k < n_seeds; k++) {
        const double *row = scores + (size_t)vkq_random_below(rng, n_seeds) * n_items;
        for (uint32_t i = 0; i < n_items; i++)
            sum += row[items[i]];
    }
    return sum / ((double)n_seeds * n_items);
}

vkq_status vkq_bootstrap_mean(const double *scores, uint32_t n_seeds, uint32_t n_items,
                              uint32_t resamples, uint64_t rng_seed, vkq_interval *out)
{
    if (!scores || !out)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "vkq_bootstrap_mean: NULL argument");
    if (n_seeds == 0 || n_items == 0 || resamples < 2)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT,
                        "bootstrap: %u seeds, %u items, %u resamples (need 1, 1, 2 or more)",
                        n_seeds, n_items, resamples);
    size_t total = (size_t)n_seeds * n_items;
    double sum = 0;
    for (size_t i = 0; i < total; i++) {
        if (!isfinite(scores[i]))
            return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "bootstrap: score %zu is not finite", i);
        sum += scores[i];
    }
    double *means = malloc(resamples * sizeof *means);
    uint32_t *items = malloc(n_items * sizeof *items);
    if (!means || !items) {
        free(means);
        free(items);
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "bootstrap: out of host memory");
    }
    uint64_t rng = rng_seed;
    for (uint32_t b = 0; b < resamples; b++)
        means[b] = resampled_mean(scores, n_seeds, n_items, items, &rng);
    qsort(means, resamples, sizeof *means, by_value);
    *out = (vkq_interval){sum / (double)total, quantile(means, resamples, 0.025),
                          quantile(means, resamples, 0.975)};
    free(means);
    free(items);
    return VKQ_OK;
}
