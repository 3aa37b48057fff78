/* llama2.c checkpoints: the header, the sizes it implies, and the parameters. */
#include <stdlib.h>

#include "fuzz.h"
#include "vkquill/llama.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vkq_llama_config cfg;
    float *params = NULL;
    if (vkq_llama2c_read(fuzz_file(0, data, size), &cfg, &params) == VKQ_OK)
        free(params);
    return 0;
}
