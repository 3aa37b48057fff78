#include "kernels/reference.h"

static uint32_t mix32(uint32_t v)
{
    v ^= v >> 16;
    v *= 0x7feb352du;
    v ^= v >> 15;
    v *= 0x846ca68bu;
    v ^= v >> 16;
    return v;
}

int vkq_ref_dropout_keep(uint32_t key, uint32_t i, float p)
{
    return mix32(i * 0x9e3779b9u + mix32(key)) >= vkq_dropout_threshold(p);
}

void vkq_ref_dropout_forward(const float *x, float *out, uint32_t n, float p, uint32_t key)
{
    for (uint32_t i = 0; i < n; i++)
        out[i] = vkq_ref_dropout_keep(key, i, p) ? x[i] * (1.0f / (1.0f - p)) : 0.0f;
}

void vkq_ref_dropout_backward(const float *dout, float *dx, uint32_t n, float p, uint32_t key)
{
    for (uint32_t i = 0; i < n; i++)
        if (vkq_ref_dropout_keep(key, i, p))
            dx[i] += dout[i] * (1.0f / (1.0f - p));
}
