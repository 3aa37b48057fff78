#version 450
// Element-wise operations, one per OP: 0 add (out = x + y), 1 scale (out = s x),
// 2 axpy (out += s x), 3 copy (out = x), 4 fill (out = s).
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x = 64) in;
layout(constant_id = 0) const uint OP = 0u;

layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer Y { float y[]; };
layout(std430, binding = 2) buffer Out { float o[]; };

layout(push_constant) uniform Push {
    uint n;
    float s;
} p;

void main()
{
    uint i = vkq_flat_index(64u);
    if (i >= p.n)
        return;
    if (OP == 0u)
        o[i] = x[i] + y[i];
    else if (OP == 1u)
        o[i] = p.s * x[i];
    else if (OP == 2u)
        o[i] += p.s * x[i];
    else if (OP == 3u)
        o[i] = x[i];
    else
        o[i] = p.s;
}
