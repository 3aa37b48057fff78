#version 450
// Causal grouped-query attention backward over packed sequences, cpu-shaped (see
// attention_cpu.glsl), recomputing every probability p_ts = exp(score_ts - lse_t) block by
// block from the saved log-sum-exp; with ds_ts = p_ts (dout_t . v_s - delta_t):
// MODE 0, a problem per (tile of 32 queries, head), over the key tiles its queries see:
//   dq_t += scale sum_s ds_ts k_s.
// MODE 1, a problem per (tile of 32 keys, kv head), over the heads of the group and the
// query tiles from the key tile on, until one starts past the keys' sequences:
//   dv_s += sum_t p_ts dout_t, dk_s += sum_t ds_ts q_t (q was packed pre-scaled).
// Every gradient element is summed by one lane in a fixed order: no atomics, deterministic.
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_shader_subgroup_shuffle : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_EXT_control_flow_attributes : require
#extension GL_EXT_shader_explicit_arithmetic_types_int64 : require

layout(constant_id = 1) const uint MODE = 0u;
#define VKQ_ATTENTION_BACKWARD
#include "attention_cpu.glsl"
#include "words.glsl"

layout(std430, binding = 0) buffer Grad { float grad[]; }; // dq (MODE 0) or dk (MODE 1)
layout(std430, binding = 1) buffer Dv { float dv[]; };     // MODE 1 only
// An even HEAD_DIM: two dimensions of a token a word (words.glsl).
layout(std430, binding = 0) buffer GradPairs { uint64_t grad_pairs[]; };
layout(std430, binding = 1) buffer DvPairs { uint64_t dv_pairs[]; };

layout(push_constant) uniform Push {
    uint n;
    uint heads;
    uint kv_heads;
    uint q_at; // texel offsets of the panels of q / sqrt(HEAD_DIM), k and v in panels,
               // of dout and the statistics in grad_panels
    uint k_at;
    uint v_at;
    uint dout_at;
    uint stats_at;
} p;

// Texel of this lane in the statistics of (head, tile): 0 lse, 1 delta, 2 first key.
int stats_texel(uint head, uint tiles, uint tile, uint which)
{
    return int(p.stats_at + ((head * tiles + tile) * 3u + which) * LANES + lane_id());
}

// An even HEAD_DIM: v to dimensions at and at + 1 of grad (set 0) or dv (set 1), one word.
void add_pair(uint set, uint at, vec2 v)
{
    if (set == 1u)
        dv_pairs[at / 2u] = vkq_word(vkq_pair(dv_pairs[at / 2u]) + v);
    else
        grad_pairs[at / 2u] = vkq_word(vkq_pair(grad_pairs[at / 2u]) + v);
}

// An odd HEAD_DIM: v to dimensions d and d + 1 (those below HEAD_DIM) at `at` of grad or dv.
void add_odd(uint set, uint at, uint d, vec2 v)
{
    [[unroll]] for (uint e = 0u; e < 2u; e++) {
        if (d + e < HEAD_DIM && set == 1u)
            dv[at + e] += v[e];
        if (d + e < HEAD_DIM && set == 0u)
            grad[at + e] += v[e];
    }
}

// grad (set 0) or dv (set 1) rows first_row + r * stride += scale * acc, for the tokens
// r < tokens of this lane.
void add_rows(uint first_row, uint stride, uint set, float scale, uint tokens,
              vec4 acc[ACCUMULATED])
{
    [[unroll]] for (uint j = 0u; j < 4u; j++) {
        if (4u * lane_id() + j >= tokens)
            continue;
        uint row = (first_row + (4u * lane_id() + j) * stride) * HEAD_DIM;
        for (uint c = 0u; c < PADDED_DIM; c += CHUNK) {
            vec4 chunk[CHUNK];
            take_chunk(acc, c, chunk);
            [[unroll]] for (uint d = 0u; d < CHUNK; d += 2u) {
                vec2 v = (set == 1u ? 1.0 : scale) * vec2(chunk[d][j], chunk[d + 1u][j]);
                uint at = row + c + d;
                if (HEAD_DIM % 2u == 0u && c + d < HEAD_DIM)
                    add_pair(set, at, v);
                if (HEAD_DIM % 2u == 1u)
                    add_odd(set, at, c + d, v);
            }
        }
    }
}

void zero_block(out vec4 s[TILE])
{
    [[unroll]] for (uint r = 0u; r < TILE; r++)
        s[r] = vec4(0.0);
}

// head: past the last head (an odd count in pairs), the last one again, not stored.
void query_gradient(uint tile, uint head)
{
    uint stored = head < p.heads ? p.n - tile * TILE : 0u;
    head = min(head, p.heads - 1u);
    uint kv_head = head / (p.heads / p.kv_heads), tiles = (p.n + TILE - 1u) / TILE;
    uvec4 query = tile * TILE + 4u * lane_id() + uvec4(0u, 1u, 2u, 3u);
    vec4 lse = imageLoad(grad_panels, stats_texel(head, tiles, tile, 0u));
    vec4 delta = imageLoad(grad_panels, stats_texel(head, tiles, tile, 1u));
    uvec4 first = uvec4(imageLoad(grad_panels, stats_texel(head, tiles, tile, 2u)));
    uint lowest = subgroupMin(min(min(first.x, first.y), min(first.z, first.w)));
    uint last = min(tile * TILE + TILE - 1u, p.n - 1u);
    int q_panel = panel_texel(p.q_at, head, tiles, tile);
    int dout_panel = panel_texel(p.dout_at, head, tiles, tile);

    vec4 dq[ACCUMULATED];
    zero_accumulators(dq);
    for (uint block = lowest / TILE; block <= last / TILE; block++) {
        int k_panel = panel_texel(p.k_at, kv_head, tiles, block);
        vec4 s[TILE], dp[TILE];
        zero_block(s);
        zero_block(dp);
        tile_products(QKV, q_panel, QKV, k_panel, s);
        tile_products(GRAD, dout_panel, QKV, panel_texel(p.v_at, kv_head, tiles, block),
                      dp);
        [[unroll]] for (uint r = 0u; r < TILE; r++) {
            vec4 pr = mix(vec4(0.0), exp(s[r] - lse), visible(uvec4(block * TILE + r), query, first));
            s[r] = pr * (dp[r] - delta);
        }
        weighted_rows(QKV, k_panel, s, vec4(1.0), dq);
    }
    add_rows(tile * TILE * p.heads + head, p.heads, 0u, inversesqrt(float(HEAD_DIM)), stored, dq);
}

// One statistic of query 4 u + j of a tile, from the texel `mine` each lane fetched.
float broadcast(vec4 mine, uint u, uint j)
{
    return from_lane(mine[j], u);
}

// The probabilities and score gradients of a (query tile, key tile) block, transposed: lane
// l's four keys against query r of the tile, in p_t[r] and ds_t[r].
void key_block(uint head, uint kv_head, uint tiles, uint tile, uint query_tile, uvec4 key,
               out vec4 p_t[TILE], out vec4 ds_t[TILE])
{
    vec4 lse = imageLoad(grad_panels, stats_texel(head, tiles, query_tile, 0u));
    vec4 delta = imageLoad(grad_panels, stats_texel(head, tiles, query_tile, 1u));
    vec4 first = imageLoad(grad_panels, stats_texel(head, tiles, query_tile, 2u));
    zero_block(p_t);
    zero_block(ds_t);
    tile_products(QKV, panel_texel(p.k_at, kv_head, tiles, tile), QKV,
                  panel_texel(p.q_at, head, tiles, query_tile), p_t);
    tile_products(QKV, panel_texel(p.v_at, kv_head, tiles, tile), GRAD,
                  panel_texel(p.dout_at, head, tiles, query_tile), ds_t);
    [[unroll]] for (uint u = 0u; u < LANES; u++)
        [[unroll]] for (uint j = 0u; j < 4u; j++) {
            uint r = 4u * u + j;
            uvec4 query = uvec4(query_tile * TILE + r);
            bvec4 seen = visible(key, query, uvec4(broadcast(first, u, j)));
            vec4 pr = mix(vec4(0.0), exp(p_t[r] - broadcast(lse, u, j)), seen);
            p_t[r] = pr;
            ds_t[r] = pr * (ds_t[r] - broadcast(delta, u, j));
        }
}

// kv_head: past the last (an odd count in pairs), the last one again, not stored.
void key_value_gradient(uint tile, uint kv_head)
{
    uint stored = kv_head < p.kv_heads ? p.n - tile * TILE : 0u;
    kv_head = min(kv_head, p.kv_heads - 1u);
    uint group = p.heads / p.kv_heads, tiles = (p.n + TILE - 1u) / TILE;
    uvec4 key = tile * TILE + 4u * lane_id() + uvec4(0u, 1u, 2u, 3u);
    uint last = min(tile * TILE + TILE - 1u, p.n - 1u);
    vec4 dk_acc[ACCUMULATED], dv_acc[ACCUMULATED];
    zero_accumulators(dk_acc);
    zero_accumulators(dv_acc);
    for (uint head = kv_head * group; head < (kv_head + 1u) * group; head++)
        // Sequences are contiguous: the first query tile that starts past the keys' sequences
        // ends the walk.
        for (uint query_tile = tile; query_tile < tiles; query_tile++) {
            vec4 first = imageLoad(grad_panels, stats_texel(head, tiles, query_tile, 2u));
            if (subgroupMin(min(min(first.x, first.y), min(first.z, first.w))) > float(last))
                break;
            vec4 p_t[TILE], ds_t[TILE];
            key_block(head, kv_head, tiles, tile, query_tile, key, p_t, ds_t);
            weighted_rows(GRAD, panel_texel(p.dout_at, head, tiles, query_tile), p_t,
                          vec4(1.0), dv_acc);
            weighted_rows(QKV, panel_texel(p.q_at, head, tiles, query_tile), ds_t, vec4(1.0),
                          dk_acc);
        }
    uint first_row = tile * TILE * p.kv_heads + kv_head;
    add_rows(first_row, p.kv_heads, 0u, 1.0, stored, dk_acc);
    add_rows(first_row, p.kv_heads, 1u, 1.0, stored, dv_acc);
}

void main()
{
    uint head = gl_WorkGroupID.y * (WIDTH / LANES) + problem();
    if (MODE == 0u)
        query_gradient(gl_WorkGroupID.x, head);
    else
        key_value_gradient(gl_WorkGroupID.x, head);
}
