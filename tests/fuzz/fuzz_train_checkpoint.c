/* Trainer checkpoints (checkpoint.bin). The loader is told the model's parameter count; here
 * it is the count the header claims (at byte 40) when that is small, so both the header checks
 * and the array reads are reached. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "train/train_internal.h"

enum { COUNT_AT = 40, MAX_PARAMETERS = 1 << 12 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t parameters = 1;
    if (size >= COUNT_AT + sizeof parameters) {
        memcpy(&parameters, data + COUNT_AT, sizeof parameters);
        if (parameters > MAX_PARAMETERS)
            parameters = 1;
    }
    train_state st;
    float *params, *m, *v;
    if (train_checkpoint_load(fuzz_file(0, data, size), parameters, &st, &params, &m, &v) ==
        VKQ_OK) {
        free(params);
        free(m);
        free(v);
    }
    return 0;
}
