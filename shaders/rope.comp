#version 450
// Rotary position embedding, llama2.c layout: each head's consecutive pairs (x[2i], x[2i+1])
// turn by positions[t] * theta^(-2i/head_dim) (positions restart in every packed sequence;
// while decoding, each sequence is at its own position). One invocation per (token, pair index): it computes the angle once and turns that
// pair in every head, in place. MODE 0 turns forward (R x); MODE 1 turns back (R^T dx).
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x = 64) in;
layout(constant_id = 0) const uint MODE = 0u;

layout(std430, binding = 0) buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer Positions { int positions[]; };

layout(push_constant) uniform Push {
    uint n;
    uint heads;
    uint head_dim;
    float theta;
} p;

void rotate(uint t, uint i)
{
    float pos = float(positions[t]);
    float freq = pow(p.theta, -float(2u * i) / float(p.head_dim));
    float angle = MODE == 0u ? pos * freq : -pos * freq;
    float c = cos(angle), s = sin(angle);
    uint base = t * p.heads * p.head_dim + 2u * i;
    for (uint h = 0u; h < p.heads; h++) {
        uint k = base + h * p.head_dim;
        float x0 = x[k], x1 = x[k + 1u];
        x[k] = x0 * c - x1 * s;
        x[k + 1u] = x0 * s + x1 * c;
    }
}

void main()
{
    uint pairs = p.head_dim / 2u;
    uint i = vkq_flat_index(64u);
    if (i < p.n * pairs)
        rotate(i / pairs, i % pairs);
}
