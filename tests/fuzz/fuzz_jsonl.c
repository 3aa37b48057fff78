/* The native JSONL sample format, with and without skip_bad. */
#include "fuzz.h"
#include "vkquill/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(0, data, size);
    for (int skip_bad = 0; skip_bad <= 1; skip_bad++) {
        vkq_dataset d;
        if (vkq_dataset_load_jsonl(path, skip_bad, &d) == VKQ_OK)
            vkq_dataset_free(&d);
    }
    return 0;
}
