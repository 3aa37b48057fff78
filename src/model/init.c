#include <math.h>

#include "vkquill/llama.h"

static uint64_t next(uint64_t *state)
{
    *state = *state * 6364136223846793005ull + 1442695040888963407ull;
    return *state >> 11;
}

/* A standard normal sample (Box-Muller). */
static float normal(uint64_t *state)
{
    double u1 = ((double)next(state) + 1.0) / 9007199254740993.0;
    double u2 = (double)next(state) / 9007199254740992.0;
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

static void fill(float *p, size_t n, uint64_t *state, float mean, float std)
{
    for (size_t i = 0; i < n; i++)
        p[i] = mean + std * normal(state);
}

void vkq_llama_init_random(const vkq_llama_config *c, uint64_t seed, float *params)
{
    vkq_llama_layout l;
    vkq_llama_layout_of(c, &l);
    uint64_t state = seed * 0x9e3779b97f4a7c15ull + 1;
    const float std = 0.02f;
    /* GPT-2 style: residual projections scaled down with depth. */
    const float residual_std = std / sqrtf(2.0f * (float)c->n_layers);
    fill(params + l.tok_emb, l.rms_att - l.tok_emb, &state, 0.0f, std);
    fill(params + l.rms_att, l.wq - l.rms_att, &state, 1.0f, 0.0f);
    fill(params + l.wq, l.wo - l.wq, &state, 0.0f, std);
    fill(params + l.wo, l.rms_ffn - l.wo, &state, 0.0f, residual_std);
    fill(params + l.rms_ffn, l.w1 - l.rms_ffn, &state, 1.0f, 0.0f);
    fill(params + l.w1, l.w2 - l.w1, &state, 0.0f, std);
    fill(params + l.w2, l.w3 - l.w2, &state, 0.0f, residual_std);
    fill(params + l.w3, l.rms_final - l.w3, &state, 0.0f, std);
    fill(params + l.rms_final, c->dim, &state, 1.0f, 0.0f);
    if (!c->shared_classifier)
        fill(params + l.wcls, l.total - l.wcls, &state, 0.0f, std);
}
