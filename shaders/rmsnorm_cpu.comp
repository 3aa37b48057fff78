#version 450
// RMSNorm for CPU drivers, the cpu variant of rmsnorm.comp, for rows of dim floats with dim a
// multiple of 4; one invocation per row, reading texel spans (streams: 0 x, 1 w, 2 dy, 3 dx),
// so the storage bindings of x, w and dy (0, 1, 3) go unread.
// MODE 0: forward, y and rstd.
// MODE 1: backward: dx += rstd * (w dy - x rstd^2 mean(w dy x)), and for every subgroup of the
//         grid a partial row of the weight gradient, the sum of dy x rstd over its rows.
// MODE 2: weight gradient, one invocation per texel of dw: dw += the partial rows (stream 0)
//         summed in order, so the result is deterministic.
#extension GL_EXT_shader_explicit_arithmetic_types_int64 : require
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#define VKQ_TEXEL_SPANS
#include "common.glsl"
#include "words.glsl"

layout(local_size_x = 64) in;
layout(constant_id = 0) const uint MODE = 0u;
layout(constant_id = 1) const uint SPANS = 0u;

layout(std430, binding = 2) buffer Rstd { float rstd[]; };
// Texels as words.glsl: y (MODE 0), dx (1) or dw (2), and the partial sums.
layout(std430, binding = 4) buffer Out { u64vec2 o[]; };
layout(std430, binding = 5) buffer Partials { u64vec2 partial[]; };

layout(push_constant) uniform Push {
    uint rows;
    uint dim;
    float eps;
    int x_at;  // texel offsets of the streams in their spans
    int w_at;
    int dy_at;
    int dx_at;
    uint partial_rows;
} p;

vec4 fetch(uint stream, int at, uint k)
{
    return vkq_span_fetch(SPANS, stream, at + int(k));
}

void forward(uint r)
{
    uint texels = p.dim / 4u, row = r * texels;
    float ss = 0.0;
    for (uint k = 0u; k < texels; k++) {
        vec4 v = fetch(0u, p.x_at, row + k);
        ss += dot(v, v);
    }
    float s = inversesqrt(ss / float(p.dim) + p.eps);
    rstd[r] = s;
    for (uint k = 0u; k < texels; k++)
        o[row + k] = vkq_words(fetch(0u, p.x_at, row + k) * s * fetch(1u, p.w_at, k));
}

// Every lane of a subgroup takes part in the partial sums, so lanes past the last row work on
// the last row and contribute nothing.
void backward(uint i)
{
    bool real = i < p.rows;
    uint r = min(i, p.rows - 1u), texels = p.dim / 4u, row = r * texels;
    float s = rstd[r], d = 0.0;
    for (uint k = 0u; k < texels; k++)
        d += dot(fetch(1u, p.w_at, k) * fetch(2u, p.dy_at, row + k), fetch(0u, p.x_at, row + k));
    float c = s * s * s * d / float(p.dim);
    uint group = gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x;
    // Derived from gl_SubgroupSize: with 16-lane subgroups, lavapipe (Mesa 22.3) gave partial
    // rows that did not add up when indexed by gl_SubgroupID and gl_NumSubgroups.
    uint subgroups = 64u / gl_SubgroupSize, subgroup = gl_LocalInvocationID.x / gl_SubgroupSize;
    uint part_row = (group * subgroups + subgroup) * texels;
    for (uint k = 0u; k < texels; k++) {
        vec4 xv = fetch(0u, p.x_at, row + k), g = fetch(2u, p.dy_at, row + k);
        if (real)
            o[row + k] =
                vkq_words(fetch(3u, p.dx_at, row + k) + s * fetch(1u, p.w_at, k) * g - c * xv);
        vec4 sum = subgroupAdd(real ? g * xv * s : vec4(0.0));
        if (subgroupElect())
            partial[part_row + k] = vkq_words(sum);
    }
}

void weight_gradient(uint k)
{
    uint texels = p.dim / 4u;
    vec4 acc = vec4(0.0);
    for (uint q = 0u; q < p.partial_rows; q++)
        acc += fetch(0u, p.x_at, q * texels + k);
    o[k] = vkq_words(vkq_floats(o[k]) + acc);
}

void main()
{
    uint i = vkq_flat_index(64u);
    if (MODE == 0u) {
        if (i < p.rows)
            forward(i);
    } else if (MODE == 1u) {
        backward(i);
    } else if (i < p.dim / 4u) {
        weight_gradient(i);
    }
}
