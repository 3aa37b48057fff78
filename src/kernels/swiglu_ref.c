#include <math.h>

#include "kernels/reference.h"

static double sigmoid(double a)
{
    return 1.0 / (1.0 + exp(-a));
}

void vkq_ref_swiglu_forward(const float *a, const float *b, float *out, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        out[i] = (float)(a[i] * sigmoid(a[i]) * b[i]);
}

void vkq_ref_swiglu_backward(const float *dout, const float *a, const float *b, float *da,
                             float *db, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        double s = sigmoid(a[i]);
        da[i] += (float)((double)dout[i] * b[i] * s * (1.0 + a[i] * (1.0 - s)));
        db[i] += (float)((double)dout[i] * a[i] * s);
    }
}
