#version 450
// AdamW for CPU drivers, the cpu variant of adamw.comp (same update, same clipping). A workgroup is
// one subgroup of 8 and updates 8 * PER whole texels of 4 parameters, read from texel spans
// (streams: 0 params, 1 grads, 2 m, 3 v) and written as 64-bit words (words.glsl). The launcher
// dispatches only whole workgroups and leaves the rest to adamw.comp, so no invocation tests a
// bound: on lavapipe a store under a lane mask becomes a load, a select and a store per lane, and a
// workgroup larger than a subgroup runs its subgroups in turn.
#extension GL_EXT_shader_explicit_arithmetic_types_int64 : require
#extension GL_EXT_control_flow_attributes : require
#extension GL_GOOGLE_include_directive : require
#define VKQ_TEXEL_SPANS
#include "common.glsl"
#include "words.glsl"

layout(local_size_x = 8) in;
layout(constant_id = 0) const uint SPANS = 0u;
layout(constant_id = 1) const uint PER = 1u;  // texels an invocation

layout(std430, binding = 0) writeonly buffer Params4 { u64vec2 params4[]; }; // texels as words.glsl
layout(std430, binding = 2) writeonly buffer M4 { u64vec2 m4[]; };
layout(std430, binding = 3) writeonly buffer V4 { u64vec2 v4[]; };
layout(std430, binding = 4) readonly buffer Hyper {  // vkq_adamw_hyper
    float lr;
    float beta1;
    float beta2;
    float eps;
    float weight_decay;
    float bias_correction1;
    float bias_correction2;
    float max_grad_norm;
} h;
layout(std430, binding = 5) readonly buffer GradSumsq { float grad_sumsq; };

layout(push_constant) uniform Push {
    uint first_group;  // of this dispatch among the launch's
    int params_at;  // texel offsets of the streams in their spans
    int grads_at;
    int m_at;
    int v_at;
} p;

struct hyper {
    float lr, beta1, beta2, eps, decay, bc1, bc2, clip;
};

hyper read_hyper()
{
    float clip = 1.0;
    if (h.max_grad_norm > 0.0)
        clip = min(1.0, h.max_grad_norm / (sqrt(grad_sumsq) + 1e-6));
    return hyper(h.lr, h.beta1, h.beta2, h.eps, h.weight_decay, h.bias_correction1,
                 h.bias_correction2, clip);
}

// One step for 4 parameters: param, m and v in, their new values out.
void adamw_step(hyper hp, vec4 g, inout vec4 param, inout vec4 mi, inout vec4 vi)
{
    g *= hp.clip;
    mi = hp.beta1 * mi + (1.0 - hp.beta1) * g;
    vi = hp.beta2 * vi + (1.0 - hp.beta2) * g * g;
    vec4 decayed = param - hp.lr * hp.decay * param;
    param = decayed - hp.lr * ((mi / hp.bc1) / (sqrt(vi / hp.bc2) + hp.eps));
}

vec4 fetch(uint stream, int at, uint t)
{
    return vkq_span_fetch(SPANS, stream, at + int(t));
}

void main()
{
    hyper hp = read_hyper();
    uint group = gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x + p.first_group;
    uint first = group * 8u * PER + gl_LocalInvocationID.x;
    [[unroll]] for (uint j = 0u; j < PER; j++) {
        uint t = first + j * 8u;
        vec4 param = fetch(0u, p.params_at, t), mi = fetch(2u, p.m_at, t);
        vec4 vi = fetch(3u, p.v_at, t);
        adamw_step(hp, fetch(1u, p.grads_at, t), param, mi, vi);
        params4[t] = vkq_words(param);
        m4[t] = vkq_words(mi);
        v4[t] = vkq_words(vi);
    }
}
