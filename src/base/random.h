/* splitmix64: a small, fast, reproducible stream of random numbers from one 64-bit state. */
#ifndef VKQ_BASE_RANDOM_H
#define VKQ_BASE_RANDOM_H

#include <stdint.h>

uint64_t vkq_random_next(uint64_t *state);
/* A number in [0, n), n > 0; the modulo bias is below n / 2^64. */
uint32_t vkq_random_below(uint64_t *state, uint32_t n);

#endif
