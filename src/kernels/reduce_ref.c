#include "kernels/reference.h"

float vkq_ref_sum(const float *x, uint32_t n)
{
    double s = 0.0;
    for (uint32_t i = 0; i < n; i++)
        s += x[i];
    return (float)s;
}

float vkq_ref_sumsq(const float *x, uint32_t n)
{
    double s = 0.0;
    for (uint32_t i = 0; i < n; i++)
        s += (double)x[i] * x[i];
    return (float)s;
}
