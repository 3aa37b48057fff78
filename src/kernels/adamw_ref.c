#include <math.h>

#include "kernels/reference.h"

void vkq_ref_adamw(float *params, const float *grads, float *m, float *v,
                   const vkq_adamw_hyper *h, double grad_sumsq, uint32_t n)
{
    double scale = 1.0;
    if (h->max_grad_norm > 0.0f)
        scale = fmin(1.0, h->max_grad_norm / (sqrt(grad_sumsq) + 1e-6));
    for (uint32_t i = 0; i < n; i++) {
        double g = grads[i] * scale;
        double mi = h->beta1 * (double)m[i] + (1.0 - h->beta1) * g;
        double vi = h->beta2 * (double)v[i] + (1.0 - h->beta2) * g * g;
        double p = params[i] - (double)h->lr * h->weight_decay * params[i];
        p -= h->lr * (mi / h->bias_correction1) / (sqrt(vi / h->bias_correction2) + h->eps);
        m[i] = (float)mi;
        v[i] = (float)vi;
        params[i] = (float)p;
    }
}
