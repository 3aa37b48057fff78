/* Prompt templates (JSON with placeholders). */
#include "fuzz.h"
#include "vkquill/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vkq_template t;
    if (vkq_template_load(fuzz_file(0, data, size), &t) == VKQ_OK)
        vkq_template_free(&t);
    return 0;
}
