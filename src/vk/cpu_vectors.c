#include "vk/cpu_vectors.h"

#include <stdio.h>
#include <stdlib.h>

#define WIDTH_VARIABLE "LP_NATIVE_VECTOR_WIDTH"

typedef enum vector_choice { CHOSEN_BY_USER, CHOSEN_FOR_AVX512, LEFT_TO_DRIVER } vector_choice;

static vector_choice choice = LEFT_TO_DRIVER;

static int cpu_has_avx512(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f");
#else
    return 0;
#endif
}

void vkq_choose_cpu_vectors(void)
{
    const char *set = getenv(WIDTH_VARIABLE);
    if (set && *set)
        choice = CHOSEN_BY_USER;
    else if (cpu_has_avx512() && setenv(WIDTH_VARIABLE, "512", 1) == 0)
        choice = CHOSEN_FOR_AVX512;
}

void vkq_cpu_vectors_reason(char *out, size_t size)
{
    switch (choice) {
    case CHOSEN_BY_USER:
        snprintf(out, size, "%.16s bits, as " WIDTH_VARIABLE " asks", getenv(WIDTH_VARIABLE));
        return;
    case CHOSEN_FOR_AVX512:
        snprintf(out, size, "512 bits, chosen because the CPU has AVX-512 (" WIDTH_VARIABLE
                            "=256 keeps lavapipe's default)");
        return;
    case LEFT_TO_DRIVER:
        snprintf(out, size, "lavapipe's default, as the CPU has no AVX-512 (" WIDTH_VARIABLE
                            "=512 asks for 512 bits)");
        return;
    }
}
