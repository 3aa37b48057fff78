#version 450
// Token embeddings; the table (or dtable) may be one piece of a larger one, holding its rows
// [first, first + rows) of vocab. MODE 0: forward, one invocation per output element:
// out[t, j] = table[tokens[t] - first, j] for the ids the piece holds, a row of zeros for an id
// outside [0, vocab), untouched for the ids of other pieces.
// MODE 1: table gradient, one invocation per (group, column): a group holds every position of
// one token id (built on the host), so each dtable element has exactly one owner, which adds
// its positions' dout in ascending order: a deterministic scatter-add without atomics.
// The forward's table may hold f16 or bf16 (TABLE_TYPE, halves.glsl).
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "halves.glsl"

layout(local_size_x = 64) in;
layout(constant_id = 0) const uint MODE = 0u;
layout(constant_id = 1) const uint TABLE_TYPE = 0u;

layout(std430, binding = 0) readonly buffer Src { float src[]; };  // table (0) or dout (1)
layout(std430, binding = 0) readonly buffer SrcWords { uint src_words[]; };
layout(std430, binding = 1) readonly buffer Ids { int ids[]; };    // tokens (0) or positions (1)
layout(std430, binding = 2) readonly buffer GroupStart { int group_start[]; };
layout(std430, binding = 3) readonly buffer GroupToken { int group_token[]; };
layout(std430, binding = 4) buffer Dst { float dst[]; };           // out (0) or dtable (1)

layout(push_constant) uniform Push {
    uint n;
    uint dim;
    uint rows;    // rows of the table (0) or of dtable (1)
    uint groups;
    uint first;   // the first row the piece holds
    uint vocab;
} p;

bool in_piece(int token)
{
    return token >= int(p.first) && uint(token) - p.first < p.rows;
}

void forward(uint i)
{
    uint t = i / p.dim, j = i - t * p.dim;
    int token = ids[t];
    uint at = (uint(token) - p.first) * p.dim + j;
    if (in_piece(token))
        dst[i] = TABLE_TYPE == 0u ? src[at] : vkq_unpack_half(src_words[at >> 1], TABLE_TYPE, at);
    else if (token < 0 || uint(token) >= p.vocab)
        dst[i] = 0.0;
}

void table_gradient(uint i)
{
    uint g = i / p.dim, j = i - g * p.dim;
    int token = group_token[g];
    if (!in_piece(token))
        return;
    float acc = 0.0;
    for (int k = group_start[g]; k < group_start[g + 1u]; k++)
        acc += src[uint(ids[k]) * p.dim + j];
    dst[(uint(token) - p.first) * p.dim + j] += acc;
}

void main()
{
    uint i = vkq_flat_index(64u);
    if (MODE == 0u) {
        if (i < p.n * p.dim)
            forward(i);
    } else if (i < p.groups * p.dim) {
        table_gradient(i);
    }
}
