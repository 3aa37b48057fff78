#include <math.h>
#include <stddef.h>

#include "kernels/reference.h"

/* Turns every pair of x by `sign` times its angle. */
static void rotate(float *x, const int32_t *positions, const float *inv_freq, uint32_t n,
                   uint32_t heads, uint32_t head_dim, vkq_rope_pairs pairs, double sign)
{
    uint32_t half = head_dim / 2;
    for (uint32_t t = 0; t < n; t++)
        for (uint32_t i = 0; i < half; i++) {
            double angle = sign * positions[t] * (double)inv_freq[i];
            double c = cos(angle), s = sin(angle);
            size_t first = pairs == VKQ_ROPE_INTERLEAVED ? 2 * i : i;
            size_t second = pairs == VKQ_ROPE_INTERLEAVED ? first + 1 : i + half;
            for (uint32_t h = 0; h < heads; h++) {
                float *head = x + ((size_t)t * heads + h) * head_dim;
                double x0 = head[first], x1 = head[second];
                head[first] = (float)(x0 * c - x1 * s);
                head[second] = (float)(x0 * s + x1 * c);
            }
        }
}

void vkq_ref_rope_forward(float *x, const int32_t *positions, const float *inv_freq, uint32_t n,
                          uint32_t heads, uint32_t head_dim, vkq_rope_pairs pairs)
{
    rotate(x, positions, inv_freq, n, heads, head_dim, pairs, 1.0);
}

void vkq_ref_rope_backward(float *dx, const int32_t *positions, const float *inv_freq,
                           uint32_t n, uint32_t heads, uint32_t head_dim, vkq_rope_pairs pairs)
{
    rotate(dx, positions, inv_freq, n, heads, head_dim, pairs, -1.0);
}
