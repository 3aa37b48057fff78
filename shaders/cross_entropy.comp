#version 450
// Softmax cross-entropy, one workgroup per row of VOCAB logits:
//   losses[r]  = w[r] * (logsumexp(x[r]) - x[r][t])
//   dlogits[r] = w[r] * (softmax(x[r]) - onehot(t))        (GRADIENT > 0)
// A target outside [0, vocab) is ignored: no loss and a zero gradient row.
// GRADIENT 0: losses only. 1: dlogits in its own buffer. 2: dlogits overwrites the logits,
// read and written through binding 4 alone so no two bindings alias.
// The 32 lanes of a workgroup stride through the row (neighbouring lanes read neighbouring
// logits); max and sum are reduced in shared memory, in a fixed order, so results are
// deterministic. 32 lanes: on lavapipe within ~7% of one 8-lane subgroup (measured, 64 x 32000
// logits), and enough per row for a GPU. Loading the logits as vec4s measured no faster.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x = 32) in;
layout(constant_id = 0) const uint GRADIENT = 0u;
const uint LANES = gl_WorkGroupSize.x;  // a power of two

layout(std430, binding = 0) readonly buffer Logits { float logits[]; };
layout(std430, binding = 1) readonly buffer Targets { int targets[]; };
layout(std430, binding = 2) readonly buffer Weights { float weights[]; };
layout(std430, binding = 3) writeonly buffer Losses { float losses[]; };
layout(std430, binding = 4) buffer Dlogits { float dlogits[]; };

layout(push_constant) uniform Push {
    uint rows;
    uint vocab;
} p;

shared float part[LANES];

float logit(uint i)
{
    return GRADIENT == 2u ? dlogits[i] : logits[i];
}

// The maximum (take_max) or the sum of v over the workgroup's lanes.
float reduce(float v, bool take_max)
{
    uint t = gl_LocalInvocationID.x;
    part[t] = v;
    barrier();
    for (uint width = LANES / 2u; width > 0u; width >>= 1u) {
        if (t < width)
            part[t] = take_max ? max(part[t], part[t + width]) : part[t] + part[t + width];
        barrier();
    }
    float all = part[0];
    barrier();  // part is reused by the next reduction
    return all;
}

void ignored_row(uint base, uint row)
{
    if (gl_LocalInvocationID.x == 0u)
        losses[row] = 0.0;
    if (GRADIENT > 0u)
        for (uint j = gl_LocalInvocationID.x; j < p.vocab; j += LANES)
            dlogits[base + j] = 0.0;
}

void main()
{
    uint row = gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x;
    if (row >= p.rows)
        return;  // the whole workgroup leaves together
    uint t = gl_LocalInvocationID.x;
    uint base = row * p.vocab;
    int target = targets[row];
    if (target < 0 || uint(target) >= p.vocab) {
        ignored_row(base, row);
        return;
    }
    // Read before the barriers below: in place, a lane may overwrite it afterwards.
    float target_logit = logit(base + uint(target));

    float m = -3.402823466e38;
    for (uint j = t; j < p.vocab; j += LANES)
        m = max(m, logit(base + j));
    m = reduce(m, true);
    float s = 0.0;
    for (uint j = t; j < p.vocab; j += LANES)
        s += exp(logit(base + j) - m);
    s = reduce(s, false);

    float w = weights[row];
    if (t == 0u)
        losses[row] = w * (m + log(s) - target_logit);
    if (GRADIENT > 0u) {
        float scale = w / s;
        for (uint j = t; j < p.vocab; j += LANES)
            dlogits[base + j] = scale * exp(logit(base + j) - m) - (j == uint(target) ? w : 0.0);
    }
}
