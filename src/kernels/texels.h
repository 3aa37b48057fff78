/* Texel spans: how the cpu kernel variants read their inputs.
 * lavapipe turns an RGBA32F texel-buffer read of 8 lanes into vector loads, but reads a storage
 * buffer one lane at a time with a bounds check each (about ten times slower). A kernel has
 * VKQ_TEXEL_SLOTS texel bindings (slots 6 on), so the tensors it reads share them: each binding is
 * one span of a memory block that covers the whole texels of every stream placed in it, and a
 * stream is found at a texel offset within its span. */
#ifndef VKQ_KERNELS_TEXELS_H
#define VKQ_KERNELS_TEXELS_H

#include "kernels/registry.h"

enum { VKQ_MAX_STREAMS = 6 };

typedef struct vkq_spans {
    vkq_buf span[VKQ_TEXEL_SLOTS];
    uint32_t bits;               /* bits 2s, 2s+1: the span of stream s; a kernel's SPANS constant */
    int32_t at[VKQ_MAX_STREAMS]; /* texel offset of stream s within its span */
} vkq_spans;

/* Places the whole texels of streams[s] (read for floats[s] floats) into at most VKQ_TEXEL_SLOTS
 * spans, one per memory block. Returns 0 when the storage-buffer kernel should run instead: the
 * variant is not cpu, a stream does not start on a texel boundary or holds no whole texel, the
 * streams lie in more memory blocks than there are spans, or a span exceeds the device's
 * texel-buffer limit. */
int vkq_spans_plan(vkq_rec *rec, const vkq_buf *streams, const uint64_t *floats, uint32_t count,
                   vkq_spans *out);

/* Binds the spans at the texel slots (the first one again in each slot no span needs). */
void vkq_spans_bind(const vkq_spans *spans, vkq_dispatch *d);

/* Workgroups of 64 for an element-wise cpu kernel over n floats: one invocation for every
 * `per` texels of the n / 4 whole texels and the texel holding the rest. */
void vkq_texel_grid(uint64_t n, uint32_t per, uint32_t groups[3]);

#endif
