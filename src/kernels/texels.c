#include "kernels/texels.h"

#include <string.h>

/* Vulkan caps minTexelBufferOffsetAlignment at 256 bytes, so a span starting on a multiple of
 * 256 suits every device. */
enum { SPAN_ALIGN = 256, TEXEL_BYTES = 16 };

static int place(vkq_buf *spans, uint32_t *used, vkq_buf stream, uint64_t bytes, uint32_t *slot)
{
    uint32_t s = 0;
    while (s < *used && spans[s].block != stream.block)
        s++;
    if (s == VKQ_TEXEL_SLOTS)
        return 0;
    uint64_t end = stream.offset + bytes;
    if (s == *used) {
        spans[s] = (vkq_buf){stream.block, stream.offset, bytes};
        (*used)++;
    } else {
        uint64_t span_end = spans[s].offset + spans[s].size;
        if (stream.offset < spans[s].offset)
            spans[s].offset = stream.offset;
        spans[s].size = (end > span_end ? end : span_end) - spans[s].offset;
    }
    *slot = s;
    return 1;
}

int vkq_spans_plan(vkq_rec *rec, const vkq_buf *streams, const uint64_t *floats, uint32_t count,
                   vkq_spans *out)
{
    vkq_ctx *ctx = vkq_rec_ctx(rec);
    memset(out, 0, sizeof *out);
    if (vkq_ctx_variant(ctx) != VKQ_VARIANT_CPU || count == 0 || count > VKQ_MAX_STREAMS)
        return 0;
    uint32_t used = 0, slot[VKQ_MAX_STREAMS];
    for (uint32_t s = 0; s < count; s++) {
        uint64_t bytes = floats[s] / 4 * TEXEL_BYTES;
        if (!streams[s].block || streams[s].offset % TEXEL_BYTES || bytes == 0 ||
            !place(out->span, &used, streams[s], bytes, &slot[s]))
            return 0;
    }
    uint64_t limit = vkq_ctx_device(ctx)->max_texel_buffer_elements;
    for (uint32_t i = 0; i < used; i++) {
        uint64_t start = out->span[i].offset / SPAN_ALIGN * SPAN_ALIGN;
        out->span[i].size += out->span[i].offset - start;
        out->span[i].offset = start;
        if (out->span[i].size / TEXEL_BYTES > limit)
            return 0;
    }
    for (uint32_t s = 0; s < count; s++) {
        out->at[s] = (int32_t)((streams[s].offset - out->span[slot[s]].offset) / TEXEL_BYTES);
        out->bits |= slot[s] << (2 * s);
    }
    return 1;
}

void vkq_spans_bind(const vkq_spans *spans, vkq_dispatch *d)
{
    for (uint32_t i = 0; i < VKQ_TEXEL_SLOTS; i++)
        d->slot[VKQ_STORAGE_SLOTS + i] =
            (vkq_binding){spans->span[spans->span[i].block ? i : 0], VKQ_READ};
}

void vkq_texel_grid(uint64_t n, uint32_t per, uint32_t groups[3])
{
    vkq_grid_1d((n / 4 + per) / per, 64, groups);
}
