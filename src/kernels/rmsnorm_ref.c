#include <math.h>
#include <stddef.h>

#include "kernels/reference.h"

void vkq_ref_rmsnorm_forward(const float *x, const float *w, float *y, float *rstd, uint32_t rows,
                             uint32_t dim, float eps)
{
    for (uint32_t r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * dim;
        double ss = 0.0;
        for (uint32_t j = 0; j < dim; j++)
            ss += (double)xr[j] * xr[j];
        double s = 1.0 / sqrt(ss / dim + eps);
        rstd[r] = (float)s;
        for (uint32_t j = 0; j < dim; j++)
            y[(size_t)r * dim + j] = (float)(xr[j] * s * w[j]);
    }
}

void vkq_ref_rmsnorm_backward(const float *dy, const float *x, const float *w, const float *rstd,
                              float *dx, float *dw, uint32_t rows, uint32_t dim)
{
    for (uint32_t r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * dim, *gr = dy + (size_t)r * dim;
        double s = rstd[r], dot = 0.0;
        for (uint32_t j = 0; j < dim; j++)
            dot += (double)w[j] * gr[j] * xr[j];
        for (uint32_t j = 0; j < dim; j++) {
            dx[(size_t)r * dim + j] += (float)(s * w[j] * gr[j] - s * s * s * dot / dim * xr[j]);
            dw[j] += (float)(gr[j] * xr[j] * s);
        }
    }
}
