#version 450
// The NextQuill causal-effect loss (include/vkquill/causal_loss.h). Token r has the logits
// z^h in row r and z^0 in row R + r; d = z^h - z^0; for kl the reference model's rows give
// the target difference dD the same way. MODE picks the pass:
//   0 STATS:    one workgroup per token: the log-sum-exps of z^h, z^0, d (and dD), then DCE,
//               the raw weight, -log p^h[y] and the alignment term into the token's scratch
//               record.
//   1 REDUCE:   one workgroup: the batch's sums over its tokens, in a fixed order, into Out.
//   2 FINALISE: one workgroup per token: its stats, normalised by the sums, into Out, and
//               both gradient rows written over the logits.
//   3 DCE:      one workgroup per token: DCE alone into Out (the fixed-DCE cache); Logits
//               then holds the reference model's logits.
//   4 TOTALS:   one invocation: the losses from the sums into Out.
// Between REDUCE and the passes that read the sums, a caller may replace them by the sums of
// a larger batch that this one is a share of (the shares of several processes).
// Lanes stride through a row and merge in shared memory in a fixed order, as in
// cross_entropy.comp, so results are deterministic. Each lane takes its own maxima before
// summing, so every element costs one exp per stream and one merge covers all four streams.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x = 32) in;
layout(constant_id = 0) const uint MODE = 0u;
const uint LANES = gl_WorkGroupSize.x;  // a power of two
const uint STATS = 0u, REDUCE = 1u, FINALISE = 2u, DCE = 3u, TOTALS = 4u;
const uint WEIGHTS_UNIFORM = 0u, WEIGHTS_THRESHOLD = 1u, WEIGHTS_JS = 2u;
const uint ALIGN_NONE = 0u, ALIGN_CE = 1u, ALIGN_KL = 2u;
const float FLT_MAX = 3.402823466e38;
const float LN2 = 0.69314718056;

// A token's scratch record.
const uint RECORD = 8u;
const uint R_DCE = 0u, R_WEIGHT = 1u, R_NLL = 2u, R_TERM = 3u, R_LSE_H = 4u, R_LSE_D = 5u,
           R_LSE_REF = 6u, R_VALID = 7u;
// The batch's sums: of w, of the valid rows, of w nll, of the terms, of w term, and the valid
// rows with DCE > delta.
const uint S_WEIGHT = 0u, S_VALID = 1u, S_WEIGHTED_NLL = 2u, S_TERM = 3u, S_WEIGHTED_TERM = 4u,
           S_ABOVE = 5u;

layout(std430, binding = 0) buffer Logits { float z[]; };
layout(std430, binding = 1) readonly buffer Targets { int targets[]; };
layout(std430, binding = 2) readonly buffer Aux { float aux[]; };  // fixed DCE (STATS), sums (FINALISE, TOTALS)
layout(std430, binding = 3) readonly buffer RefLogits { float z_ref[]; };
layout(std430, binding = 4) buffer Scratch { float scratch[]; };
layout(std430, binding = 5) buffer Out { float o[]; };  // sums (REDUCE), stats (FINALISE), dce (DCE), totals (TOTALS)

layout(push_constant) uniform Push {
    uint rows;
    uint vocab;
    uint weighting;
    uint align;
    uint align_weighted;
    uint dce_fixed;
    float delta;
    float lambda;
    float eps;
    float alpha;
    float grad_scale;
} p;

shared vec4 part_a[LANES];
shared vec4 part_b[LANES];

// The token's target, or -1 when its row is ignored.
int target_of(uint r)
{
    int y = targets[r];
    return y < 0 || uint(y) >= p.vocab ? -1 : y;
}

// Vocabulary entry j of token r: z^h, z^0, d and (kl only) dD.
vec4 streams(uint r, uint j)
{
    uint with_history = r * p.vocab + j, without = (p.rows + r) * p.vocab + j;
    float zh = z[with_history], z0 = z[without];
    float ref_d = p.align == ALIGN_KL ? z_ref[with_history] - z_ref[without] : 0.0;
    return vec4(zh, z0, zh - z0, ref_d);
}

// The sum of v over the workgroup's lanes.
vec4 sum_lanes(vec4 v)
{
    uint t = gl_LocalInvocationID.x;
    part_a[t] = v;
    barrier();
    for (uint width = LANES / 2u; width > 0u; width >>= 1u) {
        if (t < width)
            part_a[t] += part_a[t + width];
        barrier();
    }
    vec4 all = part_a[0];
    barrier();  // part_a is reused by the next reduction
    return all;
}

// The log-sum-exp over the vocabulary of each of token r's four streams.
vec4 logsumexp(uint r)
{
    uint t = gl_LocalInvocationID.x;
    vec4 m = vec4(-FLT_MAX);
    for (uint j = t; j < p.vocab; j += LANES)
        m = max(m, streams(r, j));
    vec4 s = vec4(0.0);
    for (uint j = t; j < p.vocab; j += LANES)
        s += exp(streams(r, j) - m);
    part_a[t] = m;
    part_b[t] = s;
    barrier();
    for (uint width = LANES / 2u; width > 0u; width >>= 1u) {
        if (t < width) {
            vec4 m1 = part_a[t], m2 = part_a[t + width], top = max(m1, m2);
            part_b[t] = part_b[t] * exp(m1 - top) + part_b[t + width] * exp(m2 - top);
            part_a[t] = top;
        }
        barrier();
    }
    vec4 lse = part_a[0] + log(part_b[0]);
    barrier();
    return lse;
}

// x: the JS weight sum_v p log(p/m) + q log(q/m), m = (p + q) / 2, with p = p^h, q = p^0;
// y: KL(softmax(dD) || softmax(d)). Worked in logs, so no underflowed p makes 0 * log 0.
vec2 divergences(uint r, vec4 lse)
{
    vec2 acc = vec2(0.0);
    for (uint j = gl_LocalInvocationID.x; j < p.vocab; j += LANES) {
        vec4 lg = streams(r, j) - lse;  // log p^h, log p^0, log s, log q
        if (p.weighting == WEIGHTS_JS) {
            float log_m = max(lg.x, lg.y) + log(1.0 + exp(-abs(lg.x - lg.y))) - LN2;
            acc.x += exp(lg.x) * (lg.x - log_m) + exp(lg.y) * (lg.y - log_m);
        }
        if (p.align == ALIGN_KL)
            acc.y += exp(lg.w) * (lg.w - lg.z);
    }
    return sum_lanes(vec4(acc, 0.0, 0.0)).xy;
}

float raw_weight(float dce, float js)
{
    if (p.weighting == WEIGHTS_THRESHOLD)
        return dce > p.delta ? p.lambda : p.eps;
    return p.weighting == WEIGHTS_JS ? js : 1.0;
}

void token_stats(uint r)
{
    uint at = RECORD * r;
    int y = target_of(r);
    if (y < 0) {  // the same for the whole workgroup, so it leaves together
        if (gl_LocalInvocationID.x < RECORD)
            scratch[at + gl_LocalInvocationID.x] = 0.0;
        return;
    }
    vec4 lse = logsumexp(r);
    bool needs_divergences = p.weighting == WEIGHTS_JS || p.align == ALIGN_KL;
    vec2 div = needs_divergences ? divergences(r, lse) : vec2(0.0);
    if (gl_LocalInvocationID.x != 0u)
        return;
    vec4 log_at_y = streams(r, uint(y)) - lse;
    float dce = p.dce_fixed != 0u ? aux[r] : exp(log_at_y.x) - exp(log_at_y.y);
    scratch[at + R_DCE] = dce;
    scratch[at + R_WEIGHT] = raw_weight(dce, div.x);
    scratch[at + R_NLL] = -log_at_y.x;
    scratch[at + R_TERM] = p.align == ALIGN_NONE ? 0.0 : p.align == ALIGN_CE ? -log_at_y.z : div.y;
    scratch[at + R_LSE_H] = lse.x;
    scratch[at + R_LSE_D] = lse.z;
    scratch[at + R_LSE_REF] = lse.w;
    scratch[at + R_VALID] = 1.0;
}

void token_dce(uint r)
{
    int y = target_of(r);
    if (y < 0) {
        if (gl_LocalInvocationID.x == 0u)
            o[r] = 0.0;
        return;
    }
    vec4 lse = logsumexp(r);
    if (gl_LocalInvocationID.x == 0u) {
        vec4 log_at_y = streams(r, uint(y)) - lse;
        o[r] = exp(log_at_y.x) - exp(log_at_y.y);
    }
}

void reduce_tokens()
{
    vec4 a = vec4(0.0), b = vec4(0.0);
    for (uint r = gl_LocalInvocationID.x; r < p.rows; r += LANES) {
        uint at = RECORD * r;
        float w = scratch[at + R_WEIGHT], valid = scratch[at + R_VALID];
        float term = scratch[at + R_TERM];
        a += vec4(w, valid, w * scratch[at + R_NLL], term);
        b.xy += vec2(w * term, valid * float(scratch[at + R_DCE] > p.delta));
    }
    a = sum_lanes(a);
    b = sum_lanes(b);
    if (gl_LocalInvocationID.x != 0u)
        return;
    o[S_WEIGHT] = a.x;
    o[S_VALID] = a.y;
    o[S_WEIGHTED_NLL] = a.z;
    o[S_TERM] = a.w;
    o[S_WEIGHTED_TERM] = b.x;
    o[S_ABOVE] = b.y;
}

// 1 / sum w and 1 / N_valid (0 where the sum is 0).
vec2 normalisers()
{
    return vec2(aux[S_WEIGHT] > 0.0 ? 1.0 / aux[S_WEIGHT] : 0.0,
                aux[S_VALID] > 0.0 ? 1.0 / aux[S_VALID] : 0.0);
}

void totals()
{
    if (gl_LocalInvocationID.x != 0u)
        return;
    vec2 scale = normalisers();
    float loss_n = scale.x * aux[S_WEIGHTED_NLL];
    float loss_p = p.align_weighted != 0u ? scale.x * aux[S_WEIGHTED_TERM] : scale.y * aux[S_TERM];
    o[0] = loss_n;
    o[1] = loss_p;
    o[2] = loss_n + p.alpha * loss_p;
    o[3] = scale.y * aux[S_ABOVE];
}

void finalise(uint r)
{
    uint at = RECORD * r;
    vec2 scale = normalisers();
    float w_hat = scratch[at + R_WEIGHT] * scale.x;
    float c = p.align_weighted != 0u ? w_hat : scratch[at + R_VALID] * scale.y;
    if (gl_LocalInvocationID.x == 0u) {
        o[4u * r] = scratch[at + R_DCE];
        o[4u * r + 1u] = w_hat;
        o[4u * r + 2u] = w_hat * scratch[at + R_NLL];
        o[4u * r + 3u] = c * scratch[at + R_TERM];
    }
    int y = target_of(r);
    uint with_history = r * p.vocab, without = (p.rows + r) * p.vocab;
    if (y < 0) {
        for (uint j = gl_LocalInvocationID.x; j < p.vocab; j += LANES) {
            z[with_history + j] = 0.0;
            z[without + j] = 0.0;
        }
        return;
    }
    float lse_h = scratch[at + R_LSE_H], lse_d = scratch[at + R_LSE_D];
    float lse_ref = scratch[at + R_LSE_REF];
    float scale_n = p.grad_scale * w_hat, scale_p = p.grad_scale * p.alpha * c;
    for (uint j = gl_LocalInvocationID.x; j < p.vocab; j += LANES) {
        vec4 x = streams(r, j);  // read before this lane overwrites entry j
        float hot = j == uint(y) ? 1.0 : 0.0;
        float s_minus_q = 0.0;
        if (p.align != ALIGN_NONE)
            s_minus_q = exp(x.z - lse_d) - (p.align == ALIGN_KL ? exp(x.w - lse_ref) : hot);
        z[with_history + j] = scale_n * (exp(x.x - lse_h) - hot) + scale_p * s_minus_q;
        z[without + j] = -scale_p * s_minus_q;
    }
}

void main()
{
    uint r = gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x;
    if (MODE == REDUCE)
        reduce_tokens();
    else if (MODE == TOTALS)
        totals();
    else if (r < p.rows) {  // the whole workgroup leaves together
        if (MODE == STATS)
            token_stats(r);
        else if (MODE == FINALISE)
            finalise(r);
        else
            token_dce(r);
    }
}
