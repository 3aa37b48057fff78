/* Private to src/train. */
#ifndef VKQ_TRAIN_INTERNAL_H
#define VKQ_TRAIN_INTERNAL_H

#include "base/status_internal.h"
#include "vkquill/causal_loss.h"
#include "vkquill/data.h"
#include "vkquill/model.h"
#include "vkquill/train.h"

/* A packed micro-batch of paired samples: with-history sequences first, then the
 * without-history ones in the same order; rows [0, R) are the with-history response
 * positions and rows [R, 2R) the matching without-history ones. */
typedef struct train_batch {
    int32_t *tokens, *offsets, *rows, *targets;
    uint32_t n_tokens, n_seqs, n_rows, n_response; /* n_rows = 2 n_response when paired */
    uint32_t capacity_tokens, capacity_rows;
} train_batch;

/* The loss a configuration asks for: the method's weighting and alignment, overridden by
 * the weights and align options where the method has them (align only for mce and nextquill;
 * a fixed DCE only for the paired methods). The reference model is needed exactly when the
 * result has dce_fixed or VKQ_ALIGN_KL. */
void train_loss_args(const vkq_train_config *c, vkq_causal_loss_args *a);

/* paired 0: only the with-history sequences (plain SFT). */
vkq_status train_batch_build(train_batch *b, const vkq_pair *pairs, const uint32_t *which,
                             uint32_t count, int paired);
void train_batch_free(train_batch *b);
/* The largest batch any `count` pairs can make. */
void train_batch_bounds(const vkq_pair *pairs, uint32_t n_pairs, uint32_t count, int paired,
                        uint32_t *max_tokens, uint32_t *max_rows);

enum { TRAIN_BUFS = 9 };
/* Bytes of the trainer's buffers for max_rows logit rows: targets, weights, losses, dce,
 * stats, totals, hyper, and the work and sums of a loss shared with other ranks. */
void train_buffer_sizes(uint32_t max_rows, uint64_t out[TRAIN_BUFS]);

/* The order samples are visited in: a fresh permutation of 0..n-1 per epoch, from the seed. */
void train_epoch_order(uint32_t seed, uint32_t epoch, uint32_t n, uint32_t *order);

/* Resumable state besides the parameters: optimiser moments, step and data position, and
 * which data that position is in: the number of training pairs and a hash of their tokens. */
typedef struct train_state {
    uint32_t step, epoch, position;
    uint32_t data_count;
    uint32_t ranks; /* processes that trained it: a resume needs as many */
    uint64_t data_hash;
    uint64_t parameters;
} train_state;

vkq_status train_checkpoint_save(const char *path, const train_state *st, const float *params,
                                 const float *m, const float *v);
/* Reads a checkpoint made for a model of `parameters` floats, checking its checksums; the
 * arrays are malloc'ed. */
vkq_status train_checkpoint_load(const char *path, uint64_t parameters, train_state *st,
                                 float **params, float **m, float **v);

#endif
