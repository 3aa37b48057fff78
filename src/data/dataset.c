/* Dataset assembly and release. */
#include <stdlib.h>
#include <string.h>

#include "data/data_internal.h"

static int is_power_of_two(uint32_t n) { return (n & (n - 1)) == 0; }

static vkq_status push(vkq_dataset *d, vkq_sample *s)
{
    if (d->count == UINT32_MAX)
        return vkq_fail(VKQ_ERR_UNSUPPORTED, "more than %u samples", UINT32_MAX);
    /* the capacity is the count rounded up to a power of two, so it grows at those counts */
    if (d->count == 0 || is_power_of_two(d->count)) {
        size_t capacity = d->count ? 2 * (size_t)d->count : 1;
        vkq_sample *grown = realloc(d->samples, capacity * sizeof *grown);
        if (!grown)
            return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "cannot grow the dataset to %zu samples",
                            capacity);
        d->samples = grown;
    }
    d->samples[d->count++] = *s;
    memset(s, 0, sizeof *s);
    return VKQ_OK;
}

vkq_status vkq_dataset_add(vkq_dataset *d, vkq_status read_status, vkq_sample *s, int skip_bad)
{
    vkq_status status = read_status == VKQ_OK ? push(d, s) : read_status;
    vkq_sample_clear(s);
    if (status == VKQ_ERR_FORMAT && skip_bad) {
        d->skipped++;
        return VKQ_OK;
    }
    return status;
}

void vkq_sample_clear(vkq_sample *s)
{
    free(s->user);
    free(s->input);
    free(s->target);
    for (uint32_t i = 0; i < s->n_history; i++) {
        free(s->history[i].input);
        free(s->history[i].output);
        free(s->history[i].time);
    }
    free(s->history);
    memset(s, 0, sizeof *s);
}

vkq_status vkq_dataset_finish(vkq_dataset *d, const char *path)
{
    if (d->count > 0)
        return VKQ_OK;
    if (d->skipped > 0)
        return vkq_fail(VKQ_ERR_FORMAT, "%s: no good sample; %u bad ones were skipped", path,
                        d->skipped);
    return vkq_fail(VKQ_ERR_FORMAT, "%s: no samples in the file", path);
}

void vkq_dataset_free(vkq_dataset *d)
{
    for (uint32_t i = 0; i < d->count; i++)
        vkq_sample_clear(&d->samples[i]);
    free(d->samples);
    memset(d, 0, sizeof *d);
}
