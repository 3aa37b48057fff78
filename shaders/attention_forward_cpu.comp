#version 450
// Causal grouped-query attention over packed sequences, forward, cpu-shaped (see
// attention_cpu.glsl). A problem takes a tile of 32 queries of one head and walks the tiles
// of 32 keys from the first its queries may see to the diagonal with an online softmax: scores
// of the 32 x 32 block (tile_products), the running maximum and sum updated once per block,
// then out += p v (weighted_rows, which rescales the accumulators in the same pass). The score
// matrix never leaves registers and the stack. lse[t][h], the log-sum-exp of t's score row,
// lets the backward recompute every probability.
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_shader_subgroup_shuffle : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_EXT_control_flow_attributes : require
#extension GL_EXT_shader_explicit_arithmetic_types_int64 : require

#include "attention_cpu.glsl"
#include "words.glsl"

layout(std430, binding = 0) readonly buffer Starts { int starts[]; };
layout(std430, binding = 1) writeonly buffer Out { float o[]; };
// An even HEAD_DIM: two dimensions of a token a word (words.glsl).
layout(std430, binding = 1) writeonly buffer OutPairs { uint64_t o_pairs[]; };
layout(std430, binding = 2) writeonly buffer Lse { float lse[]; };

layout(push_constant) uniform Push {
    uint n;
    uint heads;
    uint kv_heads;
    uint q_at; // texel offsets of the panels of q / sqrt(HEAD_DIM), k and v
    uint k_at;
    uint v_at;
} p;

// The first key of each token's sequence, clamped so that a malformed starts entry cannot
// reach outside the sequence's past; a token past n sees only itself.
uvec4 first_keys(uvec4 token)
{
    uvec4 first = token;
    [[unroll]] for (uint j = 0u; j < 4u; j++)
        if (token[j] < p.n)
            first[j] = min(uint(max(starts[token[j]], 0)), token[j]);
    return first;
}

void store(uvec4 query, uint head, vec4 m, vec4 l, vec4 acc[ACCUMULATED])
{
    [[unroll]] for (uint j = 0u; j < 4u; j++) {
        if (query[j] >= p.n || head >= p.heads)
            continue;
        uint row = query[j] * p.heads + head;
        for (uint c = 0u; c < PADDED_DIM; c += CHUNK) {
            vec4 chunk[CHUNK];
            take_chunk(acc, c, chunk);
            [[unroll]] for (uint d = 0u; d < CHUNK; d += 2u) {
                vec2 v = vec2(chunk[d][j], chunk[d + 1u][j]) / l[j];
                uint at = row * HEAD_DIM + c + d;
                if (HEAD_DIM % 2u == 0u && c + d < HEAD_DIM)
                    o_pairs[at / 2u] = vkq_word(v);
                if (HEAD_DIM % 2u == 1u && c + d < HEAD_DIM)
                    o[at] = v.x;
                if (HEAD_DIM % 2u == 1u && c + d + 1u < HEAD_DIM)
                    o[at + 1u] = v.y;
            }
        }
        lse[row] = m[j] + log(l[j]);
    }
}

void main()
{
    // past the last head (an odd count in pairs): the last one again, not stored
    uint tile = gl_WorkGroupID.x, head = gl_WorkGroupID.y * (WIDTH / LANES) + problem();
    uint work_head = min(head, p.heads - 1u);
    uint kv_head = work_head / (p.heads / p.kv_heads), tiles = (p.n + TILE - 1u) / TILE;
    uvec4 query = tile * TILE + 4u * lane_id() + uvec4(0u, 1u, 2u, 3u);
    uvec4 first = first_keys(query);
    uint lowest = subgroupMin(min(min(first.x, first.y), min(first.z, first.w)));
    uint last = min(tile * TILE + TILE - 1u, p.n - 1u);
    int q_panel = panel_texel(p.q_at, work_head, tiles, tile);

    vec4 m = vec4(MASKED), l = vec4(0.0), acc[ACCUMULATED];
    zero_accumulators(acc);
    for (uint block = lowest / TILE; block <= last / TILE; block++) {
        vec4 s[TILE];
        [[unroll]] for (uint r = 0u; r < TILE; r++)
            s[r] = vec4(0.0);
        tile_products(QKV, q_panel, QKV, panel_texel(p.k_at, kv_head, tiles, block), s);
        vec4 top = m;
        [[unroll]] for (uint r = 0u; r < TILE; r++) {
            s[r] = mix(vec4(MASKED), s[r], visible(uvec4(block * TILE + r), query, first));
            top = max(top, s[r]);
        }
        vec4 rescale = exp(m - top);
        l *= rescale;
        m = top;
        [[unroll]] for (uint r = 0u; r < TILE; r++) {
            s[r] = mix(vec4(0.0), exp(s[r] - top), notEqual(s[r], vec4(MASKED)));
            l += s[r];
        }
        int v_panel = panel_texel(p.v_at, kv_head, tiles, block);
        weighted_rows(QKV, v_panel, s, rescale, acc);
    }
    store(query, head, m, l, acc);
}
