#version 450
// AdamW (decoupled weight decay, bias correction, as torch.optim.AdamW), one invocation per
// parameter. Hyperparameters come from a device buffer, so a schedule rewrites that buffer
// between submits instead of re-recording. Gradients are first scaled by
// min(1, max_grad_norm / (sqrt(sum of squares of all grads) + 1e-6)) when max_grad_norm > 0.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x = 64) in;

layout(std430, binding = 0) buffer Params { float params[]; };
layout(std430, binding = 1) readonly buffer Grads { float grads[]; };
layout(std430, binding = 2) buffer M { float m[]; };
layout(std430, binding = 3) buffer V { float v[]; };
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
    uint n;
} p;

float clip_scale()
{
    if (h.max_grad_norm <= 0.0)
        return 1.0;
    return min(1.0, h.max_grad_norm / (sqrt(grad_sumsq) + 1e-6));
}

void main()
{
    uint i = vkq_flat_index(64u);
    if (i >= p.n)
        return;
    float g = grads[i] * clip_scale();
    float mi = h.beta1 * m[i] + (1.0 - h.beta1) * g;
    float vi = h.beta2 * v[i] + (1.0 - h.beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    float decayed = params[i] - h.lr * h.weight_decay * params[i];
    float step = (mi / h.bias_correction1) / (sqrt(vi / h.bias_correction2) + h.eps);
    params[i] = decayed - h.lr * step;
}
