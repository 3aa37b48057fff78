/* LaMP questions and outputs: the input is the questions file, a NUL byte, then the outputs
 * file (JSON holds no raw NUL, so the split loses nothing). */
#include <string.h>

#include "fuzz.h"
#include "vkquill/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t questions = nul ? (size_t)(nul - data) : size;
    size_t outputs_at = nul ? questions + 1 : size;
    const char *q = fuzz_file(0, data, questions);
    const char *o = fuzz_file(1, data + outputs_at, size - outputs_at);
    for (int skip_bad = 0; skip_bad <= 1; skip_bad++) {
        vkq_dataset d;
        if (vkq_dataset_load_lamp(q, o, skip_bad, &d) == VKQ_OK)
            vkq_dataset_free(&d);
    }
    return 0;
}
