#version 450
// Sum (SQUARE 0) or sum of squares (SQUARE 1) of n floats for CPU drivers, the cpu variant of
// reduce.comp: invocation i of `invocations` writes partial[i], the sum over the texels
// i, i + invocations, ... read from a texel span (stream 0), plus the last n % 4 floats for
// invocation 0. One invocation makes a whole sum; the launcher sums the partials again.
#extension GL_GOOGLE_include_directive : require
#define VKQ_TEXEL_SPANS
#include "common.glsl"

layout(local_size_x = 64) in;
layout(constant_id = 0) const uint SQUARE = 0u;
layout(constant_id = 1) const uint SPANS = 0u;

layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) writeonly buffer Out { float partial[]; };

layout(push_constant) uniform Push {
    uint n;
    int x_at;  // texel offset of x in its span
    uint invocations;
} p;

vec4 term(vec4 v)
{
    return SQUARE == 1u ? v * v : v;
}

float partial_sum(uint i)
{
    uint whole = p.n / 4u;
    vec4 acc = vec4(0.0);
    for (uint t = i; t < whole; t += p.invocations)
        acc += term(vkq_span_fetch(SPANS, 0u, p.x_at + int(t)));
    float s = acc.x + acc.y + acc.z + acc.w;
    if (i == 0u)
        for (uint j = 4u * whole; j < p.n; j++)
            s += term(vec4(x[j])).x;
    return s;
}

void main()
{
    uint i = vkq_flat_index(64u);
    if (i < p.invocations)
        partial[i] = partial_sum(i);
}
