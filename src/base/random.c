#include "base/random.h"

uint64_t vkq_random_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

uint32_t vkq_random_below(uint64_t *state, uint32_t n)
{
    return (uint32_t)(vkq_random_next(state) % n);
}
