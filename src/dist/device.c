/* The gradient sum over the ranks: a device buffer goes through host buckets, and a bucket's
 * download overlaps the previous bucket's sum. Two host buckets take turns. */
#include <stdlib.h>

#include "base/status_internal.h"
#include "vkquill/dist.h"

typedef struct bucket {
    float *host;
    size_t first, count;
    vkq_dist_pending sum;
} bucket;

static vkq_status finish(vkq_ctx *ctx, vkq_buf buf, bucket *b)
{
    VKQ_TRY(vkq_dist_sum_wait(&b->sum));
    vkq_status s = vkq_buf_upload(ctx, buf, 4 * b->first, b->host, 4 * b->count);
    b->count = 0;
    return s;
}

static vkq_status sum_buckets(vkq_ctx *ctx, vkq_buf buf, size_t count, size_t per_bucket,
                              bucket turn[2])
{
    size_t index = 0;
    for (size_t first = 0; first < count; first += per_bucket, index++) {
        bucket *b = &turn[index % 2];
        if (b->count)
            VKQ_TRY(finish(ctx, buf, b));
        b->first = first;
        b->count = count - first < per_bucket ? count - first : per_bucket;
        VKQ_TRY(vkq_buf_download(ctx, buf, 4 * first, b->host, 4 * b->count));
        VKQ_TRY(vkq_dist_sum_begin(b->host, b->count, &b->sum));
    }
    for (int i = 0; i < 2; i++, index++)
        if (turn[index % 2].count)
            VKQ_TRY(finish(ctx, buf, &turn[index % 2]));
    return VKQ_OK;
}

vkq_status vkq_dist_sum_device(vkq_ctx *ctx, vkq_buf buf, size_t count, size_t bucket_bytes)
{
    if (vkq_dist_size() == 1 || count == 0)
        return VKQ_OK;
    size_t per_bucket = bucket_bytes / sizeof(float);
    if (per_bucket == 0)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "gradient sum: a bucket holds no float");
    per_bucket = per_bucket < count ? per_bucket : count;
    bucket turn[2] = {{malloc(4 * per_bucket), 0, 0, {0}}, {malloc(4 * per_bucket), 0, 0, {0}}};
    vkq_status s = turn[0].host && turn[1].host
                       ? sum_buckets(ctx, buf, count, per_bucket, turn)
                       : vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory for the gradient "
                                  "sum");
    for (int i = 0; i < 2; i++) {
        vkq_dist_sum_wait(&turn[i].sum); /* after a failure: nothing left in flight */
        free(turn[i].host);
    }
    return s;
}
