#version 450
// Causal grouped-query attention backward over packed sequences, gpu-shaped (see
// attention_gpu.glsl), recomputing every probability p_ts = exp(score_ts - lse_t) from the
// saved log-sum-exp; with ds_ts = p_ts (dout_t . v_s - delta_t), delta_t = dout_t . out_t:
// MODE 0, an invocation per (query t, head h), blocks of keys and values in shared memory:
//   dq_t += scale sum_s ds_ts k_s, s = first..t.
// MODE 1, an invocation per (key s, kv head g), over the heads h of group g and blocks of
// their queries t >= s in shared memory, until a block starts past s's sequence:
//   dv_s += sum p_ts dout_t, dk_s += scale sum ds_ts q_t.
// Every gradient element is summed by one invocation in a fixed order: no atomics, and the
// result is deterministic.
#extension GL_GOOGLE_include_directive : require
#include "attention_gpu.glsl"

layout(constant_id = 1) const uint MODE = 0u;

layout(std430, binding = 0) readonly buffer Q { float q[]; };
layout(std430, binding = 1) readonly buffer K { float k[]; };
layout(std430, binding = 2) readonly buffer V { float v[]; };
layout(std430, binding = 3) readonly buffer Dout { float dout[]; };
layout(std430, binding = 4) buffer Grad { float grad[]; }; // dq (MODE 0) or dk (MODE 1)
layout(std430, binding = 5) buffer Dv { float dv[]; };     // MODE 1 only
// lse, delta and first key of every query, as attention_stats packs them.
layout(binding = 6, rgba32f) uniform readonly imageBuffer stats;

layout(push_constant) uniform Push {
    uint n;
    uint heads;
    uint kv_heads;
} p;

// MODE 0: keys and values of a block. MODE 1: queries (scaled) and douts.
shared float rows_a[BLOCK * HEAD_DIM], rows_b[BLOCK * HEAD_DIM];
shared float block_lse[BLOCK], block_delta[BLOCK];
shared uint block_first[BLOCK];

// Statistic `which` (0 lse, 1 delta, 2 first key) of token t of head `head`; past n, as
// attention_stats pads: lse and delta 0, first key t, which no real key reaches.
float statistic(uint which, uint t, uint head)
{
    if (t >= p.n)
        return which == 2u ? float(t) : 0.0;
    uint tiles = (p.n + 31u) / 32u;
    return imageLoad(stats, int(((head * tiles + t / 32u) * 3u + which) * 8u + t % 32u / 4u))[t % 4u];
}

void load_keys(uint start, uint kv_head)
{
    for (uint i = gl_LocalInvocationID.x; i < BLOCK * HEAD_DIM; i += QUERIES) {
        uint s = start + i / HEAD_DIM, at = (s * p.kv_heads + kv_head) * HEAD_DIM + i % HEAD_DIM;
        rows_a[i] = s < p.n ? k[at] : 0.0;
        rows_b[i] = s < p.n ? v[at] : 0.0;
    }
}

void query_gradient(uint tile, uint head)
{
    uint t = tile * QUERIES + gl_LocalInvocationID.x, kv_head = head / (p.heads / p.kv_heads);
    bool real = t < p.n;
    uint row = t * p.heads + head, first = uint(statistic(2u, t, head));
    float scale = inversesqrt(float(HEAD_DIM));
    float qs[HEAD_DIM], dos[HEAD_DIM], acc[HEAD_DIM];
    [[unroll]] for (uint j = 0u; j < HEAD_DIM; j++) {
        qs[j] = real ? q[row * HEAD_DIM + j] * scale : 0.0;
        dos[j] = real ? dout[row * HEAD_DIM + j] : 0.0;
        acc[j] = 0.0;
    }
    float row_lse = statistic(0u, t, head), delta = statistic(1u, t, head);
    uint lowest = workgroup_min(first), last = min(tile * QUERIES + QUERIES, p.n) - 1u;
    for (uint start = lowest / BLOCK * BLOCK; start <= last; start += BLOCK) {
        barrier();
        load_keys(start, kv_head);
        barrier();
        for (uint r = 0u; r < BLOCK; r++) {
            uint s = start + r;
            if (!real || s < first || s > t)
                continue;
            float score = 0.0, dp = 0.0;
            [[unroll]] for (uint j = 0u; j < HEAD_DIM; j++) {
                score += qs[j] * rows_a[r * HEAD_DIM + j];
                dp += dos[j] * rows_b[r * HEAD_DIM + j];
            }
            float ds = exp(score - row_lse) * (dp - delta);
            [[unroll]] for (uint j = 0u; j < HEAD_DIM; j++)
                acc[j] += ds * rows_a[r * HEAD_DIM + j];
        }
    }
    if (real)
        [[unroll]] for (uint j = 0u; j < HEAD_DIM; j++)
            grad[row * HEAD_DIM + j] += scale * acc[j];
}

// Queries start.. of head `head`.
void load_queries(uint start, uint head)
{
    float scale = inversesqrt(float(HEAD_DIM));
    for (uint i = gl_LocalInvocationID.x; i < BLOCK * HEAD_DIM; i += QUERIES) {
        uint t = start + i / HEAD_DIM, at = (t * p.heads + head) * HEAD_DIM + i % HEAD_DIM;
        rows_a[i] = t < p.n ? q[at] * scale : 0.0;
        rows_b[i] = t < p.n ? dout[at] : 0.0;
    }
    uint i = gl_LocalInvocationID.x, t = start + i;
    if (i < BLOCK) {
        block_lse[i] = statistic(0u, t, head);
        block_delta[i] = statistic(1u, t, head);
        block_first[i] = uint(statistic(2u, t, head));
    }
}

void key_value_gradient(uint tile, uint kv_head)
{
    uint s = tile * QUERIES + gl_LocalInvocationID.x, group = p.heads / p.kv_heads;
    bool real = s < p.n;
    uint row = s * p.kv_heads + kv_head, last = min(tile * QUERIES + QUERIES, p.n) - 1u;
    float ks[HEAD_DIM], vs[HEAD_DIM], dks[HEAD_DIM], dvs[HEAD_DIM];
    [[unroll]] for (uint j = 0u; j < HEAD_DIM; j++) {
        ks[j] = real ? k[row * HEAD_DIM + j] : 0.0;
        vs[j] = real ? v[row * HEAD_DIM + j] : 0.0;
        dks[j] = 0.0;
        dvs[j] = 0.0;
    }
    for (uint head = kv_head * group; head < (kv_head + 1u) * group; head++)
        for (uint start = tile * QUERIES; start < p.n; start += BLOCK) {
            barrier();
            load_queries(start, head);
            barrier();
            uint lowest = ~0u;
            for (uint r = 0u; r < BLOCK; r++)
                lowest = min(lowest, block_first[r]);
            if (lowest > last) // sequences are contiguous: no later query sees these keys
                break;
            for (uint r = 0u; r < BLOCK; r++) {
                uint t = start + r;
                if (!real || s < block_first[r] || s > t)
                    continue;
                float score = 0.0, dp = 0.0;
                [[unroll]] for (uint j = 0u; j < HEAD_DIM; j++) {
                    score += ks[j] * rows_a[r * HEAD_DIM + j];
                    dp += vs[j] * rows_b[r * HEAD_DIM + j];
                }
                float pr = exp(score - block_lse[r]), ds = pr * (dp - block_delta[r]);
                [[unroll]] for (uint j = 0u; j < HEAD_DIM; j++) {
                    dvs[j] += pr * rows_b[r * HEAD_DIM + j];
                    dks[j] += ds * rows_a[r * HEAD_DIM + j];
                }
            }
        }
    if (real)
        [[unroll]] for (uint j = 0u; j < HEAD_DIM; j++) {
            grad[row * HEAD_DIM + j] += dks[j];
            dv[row * HEAD_DIM + j] += dvs[j];
        }
}

void main()
{
    if (MODE == 0u)
        query_gradient(gl_WorkGroupID.x, gl_WorkGroupID.y);
    else
        key_value_gradient(gl_WorkGroupID.x, gl_WorkGroupID.y);
}
