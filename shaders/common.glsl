// Shared helpers for vkquill compute shaders.
#ifndef VKQ_COMMON_GLSL
#define VKQ_COMMON_GLSL

// A flat index over a 2D grid of workgroups, so 1D launches can exceed 65535 groups.
uint vkq_flat_index(uint local_size)
{
    return gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * gl_NumWorkGroups.x * local_size;
}

// A 1D launch of `per` items an invocation (vkq_grid_1d over ceil(items / per) invocations):
// the invocation's items are vkq_first_item + k * local_size for k < per, so neighbouring
// lanes always touch neighbouring items.
uint vkq_first_item(uint local_size, uint per)
{
    uint group = gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x;
    return group * local_size * per + gl_LocalInvocationID.x;
}

#ifdef VKQ_TEXEL_SPANS
// Texel spans (src/kernels/texels.h), the cpu variants' reads: lavapipe turns imageLoad from an
// RGBA32F storage texel buffer into inlined vector loads but reads storage buffers one lane at a
// time (and a texelFetch from a uniform texel buffer is a call that spills every vector
// register). Bits 2s and 2s+1 of the kernel's SPANS constant name the span that holds stream s.
layout(binding = 6, rgba32f) uniform readonly imageBuffer vkq_span0;
layout(binding = 7, rgba32f) uniform readonly imageBuffer vkq_span1;
layout(binding = 8, rgba32f) uniform readonly imageBuffer vkq_span2;
layout(binding = 9, rgba32f) uniform readonly imageBuffer vkq_span3;

vec4 vkq_span_fetch(uint spans, uint stream, int texel)
{
    uint span = (spans >> (2u * stream)) & 3u;
    if (span == 1u)
        return imageLoad(vkq_span1, texel);
    if (span == 2u)
        return imageLoad(vkq_span2, texel);
    if (span == 3u)
        return imageLoad(vkq_span3, texel);
    return imageLoad(vkq_span0, texel);
}
#endif

#endif
