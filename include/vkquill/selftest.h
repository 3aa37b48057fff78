/* Kernel self-tests: every kernel against its C reference on the chosen device. The same
 * checks run under ctest and as 'vkquill selftest', so users can verify their own driver. */
#ifndef VKQUILL_SELFTEST_H
#define VKQUILL_SELFTEST_H

#include "vkquill/runtime.h"

typedef struct vkq_check_result {
    const char *kernel;    /* family, e.g. "matmul" */
    const char *variant;   /* "cpu", "gpu", or "any" for kernels without variants */
    char case_name[192];   /* the shape and options of this case */
    double error;          /* NMSE = sum (got - want)^2 / sum want^2 */
    double threshold;
    int guards_ok;         /* the words after every output are untouched */
    int passed;
} vkq_check_result;

typedef void (*vkq_check_report)(const vkq_check_result *result, void *user);

/* The kernel families that have checks, and whether each comes in cpu/gpu variants. */
unsigned vkq_check_family_count(void);
const char *vkq_check_family_name(unsigned i);
int vkq_check_family_has_variants(unsigned i);

/* Runs the checks of one family (NULL: all) with one variant (AUTO: each the device supports),
 * reporting every case. *failed counts failed cases. A runtime error returns non-OK. */
vkq_status vkq_selftest(vkq_ctx *ctx, const char *family, vkq_variant variant,
                        vkq_check_report report, void *user, unsigned *failed);

#endif
