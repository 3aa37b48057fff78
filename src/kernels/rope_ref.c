#include <math.h>
#include <stddef.h>

#include "kernels/reference.h"

/* Turns every pair of x by `sign` times its angle. */
static void rotate(float *x, const int32_t *positions, uint32_t n, uint32_t heads, uint32_t head_dim,
                   float theta, double sign)
{
    for (uint32_t t = 0; t < n; t++) {
        double pos = positions[t];
        for (uint32_t i = 0; i < head_dim / 2; i++) {
            double angle = sign * pos * pow(theta, -2.0 * i / head_dim);
            double c = cos(angle), s = sin(angle);
            for (uint32_t h = 0; h < heads; h++) {
                float *pair = x + ((size_t)t * heads + h) * head_dim + 2 * i;
                double x0 = pair[0], x1 = pair[1];
                pair[0] = (float)(x0 * c - x1 * s);
                pair[1] = (float)(x0 * s + x1 * c);
            }
        }
    }
}

void vkq_ref_rope_forward(float *x, const int32_t *positions, uint32_t n, uint32_t heads,
                          uint32_t head_dim, float theta)
{
    rotate(x, positions, n, heads, head_dim, theta, 1.0);
}

void vkq_ref_rope_backward(float *dx, const int32_t *positions, uint32_t n, uint32_t heads,
                           uint32_t head_dim, float theta)
{
    rotate(dx, positions, n, heads, head_dim, theta, -1.0);
}
