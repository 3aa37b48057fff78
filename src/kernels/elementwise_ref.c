#include "kernels/reference.h"

void vkq_ref_add(const float *a, const float *b, float *out, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        out[i] = a[i] + b[i];
}

void vkq_ref_scale(const float *x, float *out, float s, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        out[i] = s * x[i];
}

void vkq_ref_axpy(float alpha, const float *x, float *y, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        y[i] += alpha * x[i];
}

void vkq_ref_copy(const float *src, float *dst, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        dst[i] = src[i];
}

void vkq_ref_fill(float *dst, float value, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        dst[i] = value;
}
