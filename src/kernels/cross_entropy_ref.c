#include <math.h>

#include "kernels/reference.h"

static void cross_entropy_row(const float *x, int32_t target, float weight, float *loss,
                              float *dx, uint32_t vocab)
{
    if (target < 0 || (uint32_t)target >= vocab) {
        *loss = 0.0f;
        for (uint32_t j = 0; dx && j < vocab; j++)
            dx[j] = 0.0f;
        return;
    }
    double m = x[0], s = 0.0;
    for (uint32_t j = 1; j < vocab; j++)
        m = fmax(m, x[j]);
    for (uint32_t j = 0; j < vocab; j++)
        s += exp(x[j] - m);
    *loss = (float)(weight * (m + log(s) - x[target]));
    for (uint32_t j = 0; dx && j < vocab; j++)
        dx[j] = (float)(weight * (exp(x[j] - m) / s - (j == (uint32_t)target)));
}

void vkq_ref_cross_entropy(const float *logits, const int32_t *targets, const float *weights,
                           float *losses, float *dlogits, uint32_t rows, uint32_t vocab)
{
    for (uint32_t r = 0; r < rows; r++) {
        size_t base = (size_t)r * vocab;
        cross_entropy_row(logits + base, targets[r], weights[r], &losses[r],
                          dlogits ? dlogits + base : NULL, vocab);
    }
}
