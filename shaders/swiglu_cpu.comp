#version 450
// SwiGLU for CPU drivers, the cpu variant of swiglu.comp: out = silu(a) * b (MODE 0), or the
// backward da += dout b silu'(a), db += dout silu(a) (MODE 1). An invocation handles one texel of 4
// floats, read from texel spans (streams: 0 a, 1 b, 2 dout, 3 da, 4 db) and written as 64-bit words
// (words.glsl); the invocation past the last whole texel handles the last n % 4 floats one by one
// through the storage buffers. (lavapipe runs this body slower when an invocation loops over
// several texels.)
#extension GL_EXT_shader_explicit_arithmetic_types_int64 : require
#extension GL_GOOGLE_include_directive : require
#define VKQ_TEXEL_SPANS
#include "common.glsl"
#include "words.glsl"

layout(local_size_x = 64) in;
layout(constant_id = 0) const uint MODE = 0u;
layout(constant_id = 1) const uint SPANS = 0u;

layout(std430, binding = 0) readonly buffer A { float a[]; };
layout(std430, binding = 1) readonly buffer B { float b[]; };
layout(std430, binding = 2) readonly buffer Dout { float dout[]; };
layout(std430, binding = 3) buffer Out { float o[]; };  // out (MODE 0) or da (1)
layout(std430, binding = 3) buffer Out4 { u64vec2 o4[]; }; // texels as words.glsl
layout(std430, binding = 4) buffer Db { float db[]; };
layout(std430, binding = 4) buffer Db4 { u64vec2 db4[]; }; // texels as words.glsl

layout(push_constant) uniform Push {
    uint n;
    int a_at;  // texel offsets of the streams in their spans
    int b_at;
    int dout_at;
    int da_at;
    int db_at;
} p;

vec4 fetch(uint stream, int at, uint t)
{
    return vkq_span_fetch(SPANS, stream, at + int(t));
}

// The forward's out, or the backward's increments of da and db.
void gate(vec4 av, vec4 bv, vec4 g, out vec4 out_or_da, out vec4 ddb)
{
    vec4 sig = 1.0 / (1.0 + exp(-av));
    vec4 silu = av * sig;
    out_or_da = MODE == 0u ? silu * bv : g * bv * sig * (1.0 + av * (1.0 - sig));
    ddb = g * silu;
}

void whole_texel(uint t)
{
    vec4 g = MODE == 0u ? vec4(0.0) : fetch(2u, p.dout_at, t);
    vec4 out_or_da, ddb;
    gate(fetch(0u, p.a_at, t), fetch(1u, p.b_at, t), g, out_or_da, ddb);
    if (MODE == 0u) {
        o4[t] = vkq_words(out_or_da);
    } else {
        o4[t] = vkq_words(fetch(3u, p.da_at, t) + out_or_da);
        db4[t] = vkq_words(fetch(4u, p.db_at, t) + ddb);
    }
}

void last_floats(uint t)
{
    for (uint i = 4u * t; i < p.n; i++) {
        vec4 out_or_da, ddb;
        gate(vec4(a[i]), vec4(b[i]), vec4(MODE == 0u ? 0.0 : dout[i]), out_or_da, ddb);
        if (MODE == 0u) {
            o[i] = out_or_da.x;
        } else {
            o[i] += out_or_da.x;
            db[i] += ddb.x;
        }
    }
}

void main()
{
    uint t = vkq_flat_index(64u), whole = p.n / 4u;
    if (t < whole)
        whole_texel(t);
    else if (t == whole)
        last_floats(t);
}
