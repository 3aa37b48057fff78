#version 450
// Rotary position embedding for CPU drivers, the cpu variant of rope.comp (the same MODE and
// PAIRS) for a head_dim that is a multiple of 8. An invocation turns pairs 4g .. 4g+3 of one
// head of one token: their frequencies are texel g of inv_freq and their values two texels of
// x (PAIRS 0: x[8g .. 8g+7]; PAIRS 1: x[4g .. 4g+3] and x[head_dim/2 + 4g ..]), read from texel
// spans (streams: 0 x, 1 inv_freq) and written back in place as 64-bit words (words.glsl). The
// token is the workgroup's y (and z past 65535), so that no lane divides by a run-time count;
// lavapipe divides one lane at a time.
#extension GL_EXT_shader_explicit_arithmetic_types_int64 : require
#extension GL_GOOGLE_include_directive : require
#define VKQ_TEXEL_SPANS
#include "common.glsl"
#include "words.glsl"

layout(local_size_x = 16) in;
layout(constant_id = 0) const uint MODE = 0u;
layout(constant_id = 1) const uint PAIRS = 0u;
layout(constant_id = 2) const uint SPANS = 0u;
layout(constant_id = 3) const uint HEAD_DIM = 8u;
const uint GROUPS = HEAD_DIM / 8u; // of four pairs, a head

layout(std430, binding = 0) writeonly buffer X { u64vec2 x[]; }; // texels as words.glsl
layout(std430, binding = 1) readonly buffer Positions { int positions[]; };

layout(push_constant) uniform Push {
    uint n;
    uint heads;
    int x_at;    // texel offsets of the streams in their spans
    int freq_at;
} p;

void main()
{
    uint t = gl_WorkGroupID.y + gl_WorkGroupID.z * gl_NumWorkGroups.y;
    uint j = gl_GlobalInvocationID.x;
    if (t >= p.n || j >= p.heads * GROUPS)
        return;
    uint g = j % GROUPS, row = (t * p.heads + j / GROUPS) * (HEAD_DIM / 4u);
    vec4 angle = float(positions[t]) * vkq_span_fetch(SPANS, 1u, p.freq_at + int(g));
    if (MODE == 1u)
        angle = -angle;
    vec4 c = cos(angle), s = sin(angle);
    // texels `first` and `second` hold the pairs' first elements in a and second ones in b
    uint first = PAIRS == 0u ? row + 2u * g : row + g;
    uint second = PAIRS == 0u ? first + 1u : first + GROUPS;
    vec4 t0 = vkq_span_fetch(SPANS, 0u, p.x_at + int(first));
    vec4 t1 = vkq_span_fetch(SPANS, 0u, p.x_at + int(second));
    vec4 a = PAIRS == 0u ? vec4(t0.xz, t1.xz) : t0;
    vec4 b = PAIRS == 0u ? vec4(t0.yw, t1.yw) : t1;
    vec4 ta = a * c - b * s, tb = a * s + b * c;
    x[first] = vkq_words(PAIRS == 0u ? vec4(ta.x, tb.x, ta.y, tb.y) : ta);
    x[second] = vkq_words(PAIRS == 0u ? vec4(ta.z, tb.z, ta.w, tb.w) : tb);
}
