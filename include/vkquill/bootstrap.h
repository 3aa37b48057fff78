/* Percentile bootstrap intervals for the demo's scores: a mean over training seeds and test
 * items, resampled in both (a seed is a training run, an item a held-out sample). */
#ifndef VKQUILL_BOOTSTRAP_H
#define VKQUILL_BOOTSTRAP_H

#include <stdint.h>

#include "vkquill/status.h"

typedef struct vkq_interval {
    double mean, lo, hi; /* the mean of all scores and its 95 % interval */
} vkq_interval;

/* scores[s * n_items + i] is the score of seed s on item i. Each of the resamples draws
 * n_seeds seeds and n_items items with replacement (the same items for every drawn seed) and
 * takes the mean of their scores; lo and hi are the 2.5th and 97.5th percentiles of those
 * means (linear interpolation between order statistics). For a paired difference pass
 * a[s][i] - b[s][i]: both arms see the same draws. rng_seed fixes the draws (splitmix64), so
 * an interval is reproducible. Errors: no seed or item, fewer than 2 resamples, a NULL
 * argument, a non-finite score. */
vkq_status vkq_bootstrap_mean(const double *scores, uint32_t n_seeds, uint32_t n_items,
                              uint32_t resamples, uint64_t rng_seed, vkq_interval *out);

#endif
