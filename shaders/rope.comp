#version 450
// Rotary position embedding, in place on x [n][heads][head_dim]: pair i of every head turns by
// positions[t] * inv_freq[i] (positions restart in every packed sequence; while decoding, each
// sequence is at its own position). PAIRS 0 pairs (x[2i], x[2i+1]) as llama2.c does; PAIRS 1
// pairs (x[i], x[i + head_dim/2]) as Hugging Face's rotate_half does. One invocation per
// (token, pair index): it computes the angle once and turns that pair in every head. MODE 0
// turns forward (R x); MODE 1 turns back (R^T dx).
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x = 64) in;
layout(constant_id = 0) const uint MODE = 0u;
layout(constant_id = 1) const uint PAIRS = 0u;

layout(std430, binding = 0) buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer Positions { int positions[]; };
layout(std430, binding = 2) readonly buffer InvFreq { float inv_freq[]; };

layout(push_constant) uniform Push {
    uint n;
    uint heads;
    uint head_dim;
} p;

void rotate(uint t, uint i)
{
    float angle = float(positions[t]) * inv_freq[i];
    if (MODE == 1u)
        angle = -angle;
    float c = cos(angle), s = sin(angle);
    uint first = PAIRS == 0u ? 2u * i : i;
    uint second = PAIRS == 0u ? first + 1u : i + p.head_dim / 2u;
    uint base = t * p.heads * p.head_dim;
    for (uint h = 0u; h < p.heads; h++) {
        uint k0 = base + h * p.head_dim + first, k1 = base + h * p.head_dim + second;
        float x0 = x[k0], x1 = x[k1];
        x[k0] = x0 * c - x1 * s;
        x[k1] = x0 * s + x1 * c;
    }
}

void main()
{
    uint pairs = p.head_dim / 2u;
    uint i = vkq_flat_index(64u);
    if (i < p.n * pairs)
        rotate(i / pairs, i % pairs);
}
