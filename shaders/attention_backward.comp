#version 450
// Causal grouped-query attention backward over packed sequences. It reads the texels of
// attention_pack_queries (per (t, h): q / sqrt(HEAD_DIM), dout, (lse, delta, first key)) and of
// attention_pack_kv (per (s, g): k, v). With p_ts = exp(score_ts - lse_t) and
// ds_ts = p_ts (dout_t . v_s - delta_t):
// MODE 0, one invocation per (query t, head h): dq_t += scale sum_s ds_ts k_s, s = first..t.
// MODE 1, one invocation per (key s, kv head g), over the queries t >= s of s's sequence and
// the heads h of group g: dv_s += p_ts dout_t, dk_s += scale ds_ts q_t.
// Every gradient element is summed by one invocation in a fixed order: no atomics, and the
// result is deterministic.
#extension GL_GOOGLE_include_directive : require
// Loops over a head's texels are unrolled: with HEAD_DIM fixed, the per-head arrays are then
// indexed by constants (the forward ran about twice as fast so on lavapipe).
#extension GL_EXT_control_flow_attributes : require
#include "common.glsl"

layout(local_size_x = 8) in;
layout(constant_id = 0) const uint MODE = 0u;
layout(constant_id = 1) const uint HEAD_DIM = 8u;
const uint HEAD_TEXELS = (HEAD_DIM + 3u) / 4u;
const uint QUERY_TEXELS = 2u * HEAD_TEXELS + 1u;
const uint STATS = 2u * HEAD_TEXELS; // where (lse, delta, first key) sits in a query's texels

layout(std430, binding = 0) buffer Grad { float grad[]; }; // dq (MODE 0) or dk (MODE 1)
layout(std430, binding = 1) buffer Dv { float dv[]; };     // MODE 1 only
layout(binding = 6) uniform samplerBuffer query_texels;
layout(binding = 7) uniform samplerBuffer kv_texels;

layout(push_constant) uniform Push {
    uint n;
    uint heads;
    uint kv_heads;
} p;

void add_gradient(uint row, vec4 g[HEAD_TEXELS], float scale)
{
    [[unroll]] for (uint j = 0u; j < HEAD_DIM; j++)
        grad[row * HEAD_DIM + j] += scale * g[j / 4u][j % 4u];
}

void query_gradient(uint i)
{
    uint t = i / p.heads;
    uint kv_head = (i % p.heads) / (p.heads / p.kv_heads);
    int query = int(i * QUERY_TEXELS);
    vec4 st = texelFetch(query_texels, query + int(STATS));
    vec4 qs[HEAD_TEXELS], dos[HEAD_TEXELS], acc[HEAD_TEXELS];
    [[unroll]] for (uint c = 0u; c < HEAD_TEXELS; c++) {
        qs[c] = texelFetch(query_texels, query + int(c));
        dos[c] = texelFetch(query_texels, query + int(HEAD_TEXELS + c));
        acc[c] = vec4(0.0);
    }
    for (uint s = uint(st.z); s <= t; s++) {
        int key = int((s * p.kv_heads + kv_head) * 2u * HEAD_TEXELS);
        vec4 kr[HEAD_TEXELS];
        float score = 0.0, dp = 0.0;
        [[unroll]] for (uint c = 0u; c < HEAD_TEXELS; c++) {
            kr[c] = texelFetch(kv_texels, key + int(c));
            score += dot(qs[c], kr[c]);
            dp += dot(dos[c], texelFetch(kv_texels, key + int(HEAD_TEXELS + c)));
        }
        float ds = exp(score - st.x) * (dp - st.y);
        [[unroll]] for (uint c = 0u; c < HEAD_TEXELS; c++)
            acc[c] += ds * kr[c];
    }
    add_gradient(i, acc, inversesqrt(float(HEAD_DIM)));
}

void key_value_gradient(uint i)
{
    uint s = i / p.kv_heads;
    uint group = p.heads / p.kv_heads;
    uint first_head = (i % p.kv_heads) * group;
    int key = int(i * 2u * HEAD_TEXELS);
    vec4 kr[HEAD_TEXELS], vr[HEAD_TEXELS], dks[HEAD_TEXELS], dvs[HEAD_TEXELS];
    [[unroll]] for (uint c = 0u; c < HEAD_TEXELS; c++) {
        kr[c] = texelFetch(kv_texels, key + int(c));
        vr[c] = texelFetch(kv_texels, key + int(HEAD_TEXELS + c));
        dks[c] = vec4(0.0);
        dvs[c] = vec4(0.0);
    }
    // Sequences are contiguous: the first query whose sequence starts after s ends the loop.
    for (uint t = s; t < p.n; t++) {
        uint row = t * p.heads + first_head;
        if (texelFetch(query_texels, int(row * QUERY_TEXELS + STATS)).z > float(s))
            break;
        for (uint h = row; h < row + group; h++) {
            int query = int(h * QUERY_TEXELS);
            vec4 st = texelFetch(query_texels, query + int(STATS));
            vec4 qs[HEAD_TEXELS], dos[HEAD_TEXELS];
            float score = 0.0, dp = 0.0;
            [[unroll]] for (uint c = 0u; c < HEAD_TEXELS; c++) {
                qs[c] = texelFetch(query_texels, query + int(c));
                dos[c] = texelFetch(query_texels, query + int(HEAD_TEXELS + c));
                score += dot(qs[c], kr[c]);
                dp += dot(dos[c], vr[c]);
            }
            float pr = exp(score - st.x);
            float ds = pr * (dp - st.y);
            [[unroll]] for (uint c = 0u; c < HEAD_TEXELS; c++) {
                dvs[c] += pr * dos[c];
                dks[c] += ds * qs[c];
            }
        }
    }
    add_gradient(i, dks, 1.0); // q was packed pre-scaled
    [[unroll]] for (uint j = 0u; j < HEAD_DIM; j++)
        dv[i * HEAD_DIM + j] += dvs[j / 4u][j % 4u];
}

void main()
{
    uint i = vkq_flat_index(8u);
    if (MODE == 0u) {
        if (i < p.n * p.heads)
            query_gradient(i);
    } else if (i < p.n * p.kv_heads) {
        key_value_gradient(i);
    }
}
