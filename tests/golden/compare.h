/* Error measures the golden tests share (tests only). */
#ifndef VKQ_TESTS_COMPARE_H
#define VKQ_TESTS_COMPARE_H

#include <stddef.h>

#include "check/harness.h" /* vkq_nmse */
#include "vkquill/llama.h"

/* The parameter tensor of a flat block whose NMSE is largest, so that a wrong small tensor
 * cannot hide in the total. */
typedef struct vkq_tensor_error {
    const char *name; /* the tensor table's name: "wq", ... */
    double nmse;
} vkq_tensor_error;

vkq_tensor_error vkq_worst_tensor(const vkq_llama_tensors *ts, const float *got,
                                  const float *want);

#endif
