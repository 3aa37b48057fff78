#version 450
// Element-wise operations for CPU drivers, the same OPs as elementwise.comp: 0 add (out = x + y), 1
// scale (out = s x), 2 axpy (out += s x), 3 copy (out = x), 4 fill (out = s). An invocation handles
// PER texels of 4 floats, read from texel spans (stream 0: x; stream 1: y, or out for axpy) and
// written as 64-bit words (words.glsl); the texel past the last whole one stands for the last n % 4
// floats, handled one by one through the storage buffers.
#extension GL_EXT_shader_explicit_arithmetic_types_int64 : require
#extension GL_GOOGLE_include_directive : require
#define VKQ_TEXEL_SPANS
#include "common.glsl"
#include "words.glsl"

layout(local_size_x = 64) in;
layout(constant_id = 0) const uint OP = 0u;
layout(constant_id = 1) const uint SPANS = 0u;
layout(constant_id = 2) const uint PER = 1u;  // texels an invocation

layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer Y { float y[]; };
layout(std430, binding = 2) buffer Out { float o[]; };
layout(std430, binding = 2) buffer Out4 { u64vec2 o4[]; }; // texels as words.glsl

layout(push_constant) uniform Push {
    uint n;
    float s;
    int x_at;  // texel offsets of the streams in their spans
    int y_at;
} p;

// b is y for add and the old output for axpy.
vec4 apply(vec4 a, vec4 b)
{
    if (OP == 0u)
        return a + b;
    if (OP == 1u)
        return p.s * a;
    if (OP == 2u)
        return b + p.s * a;
    if (OP == 3u)
        return a;
    return vec4(p.s);
}

void whole_texel(uint t)
{
    vec4 a = vec4(0.0), b = vec4(0.0);
    if (OP != 4u)
        a = vkq_span_fetch(SPANS, 0u, p.x_at + int(t));
    if (OP == 0u || OP == 2u)
        b = vkq_span_fetch(SPANS, 1u, p.y_at + int(t));
    o4[t] = vkq_words(apply(a, b));
}

void last_floats(uint t)
{
    for (uint i = 4u * t; i < p.n; i++) {
        float a = 0.0, b = 0.0;
        if (OP != 4u)
            a = x[i];
        if (OP == 0u)
            b = y[i];
        if (OP == 2u)
            b = o[i];
        o[i] = apply(vec4(a), vec4(b)).x;
    }
}

void main()
{
    uint first = vkq_first_item(64u, PER), whole = p.n / 4u;
    for (uint k = 0u; k < PER; k++) {
        uint t = first + k * 64u;
        if (t < whole)
            whole_texel(t);
        else if (t == whole)
            last_floats(t);
    }
}
