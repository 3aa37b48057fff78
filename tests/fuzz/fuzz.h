/* What the libFuzzer harnesses share. Each harness is tests/fuzz/fuzz_NAME.c, defining
 * LLVMFuzzerTestOneInput, with its seed corpus in tests/fuzz/NAME/. */
#ifndef VKQ_FUZZ_H
#define VKQ_FUZZ_H

#include <stddef.h>
#include <stdint.h>

enum { FUZZ_FILES = 2 };

/* The input as a file the parsers can open by path: file `slot` (< FUZZ_FILES) of this
 * process, rewritten on every call. It lives in memory (memfd) and leaves nothing on disk. */
const char *fuzz_file(unsigned slot, const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
