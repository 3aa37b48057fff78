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

/* Norm gains start at 1, biases at 0, the residual projections (wo, w2) smaller, GPT-2 style. */
static void init_of(vkq_tensor_id id, float std, float residual_std, float *mean, float *sd)
{
    *mean = 0.0f;
    *sd = std;
    switch (id) {
    case VKQ_RMS_ATT: case VKQ_RMS_FFN: case VKQ_RMS_FINAL: case VKQ_Q_NORM: case VKQ_K_NORM:
        *mean = 1.0f;
        *sd = 0.0f;
        break;
    case VKQ_BQ: case VKQ_BK: case VKQ_BV:
        *sd = 0.0f;
        break;
    case VKQ_WO: case VKQ_W2:
        *sd = residual_std;
        break;
    default:
        break;
    }
}

void vkq_llama_init_random(const vkq_llama_config *c, uint64_t seed, float *params)
{
    vkq_llama_tensors ts;
    vkq_llama_tensors_of(c, &ts);
    uint64_t state = seed * 0x9e3779b97f4a7c15ull + 1;
    const float std = 0.02f, residual_std = std / sqrtf(2.0f * (float)c->n_layers);
    for (int i = 0; i < VKQ_TENSOR_COUNT; i++) {
        float mean, sd;
        init_of((vkq_tensor_id)i, std, residual_std, &mean, &sd);
        fill(params + ts.t[i].offset, vkq_tensor_floats(&ts, (vkq_tensor_id)i), &state, mean, sd);
    }
}
