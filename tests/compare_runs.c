/* compare_runs A B TOLERANCE: two run directories must hold the same training. Every line of
 * log.jsonl must have the same step and, within TOLERANCE relative (0: exactly), the same
 * losses; the weights in model.bin must agree within TOLERANCE relative in norm,
 * |a - b| <= TOLERANCE |a|. grad_norm and share_above_delta are logged with six significant
 * digits, so they are held to that precision at most. Prints what differs; exit 0 when all
 * agree. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vkquill/llama2c.h"

static int close_enough(double a, double b, double tolerance)
{
    return fabs(a - b) <= tolerance * fmax(fabs(a), fabs(b));
}

static int compare_line(const char *a_line, const char *b_line, double tolerance, int line)
{
    static const char *const losses[] = {"step", "loss", "loss_n", "loss_p"};
    static const char *const six_digits[] = {"grad_norm", "share_above_delta"};
    cJSON *a = cJSON_Parse(a_line), *b = cJSON_Parse(b_line);
    int ok = a && b;
    for (int i = 0; ok && i < 6; i++) {
        const char *key = i < 4 ? losses[i] : six_digits[i - 4];
        double tol = i < 4 ? tolerance : fmax(tolerance, 1e-5);
        cJSON *x = cJSON_GetObjectItem(a, key), *y = cJSON_GetObjectItem(b, key);
        ok = cJSON_IsNumber(x) && cJSON_IsNumber(y) &&
             close_enough(x->valuedouble, y->valuedouble, tol);
        if (!ok)
            printf("log.jsonl line %d: %s %.9g and %.9g differ by more than %g relative\n", line,
                   key, x ? x->valuedouble : NAN, y ? y->valuedouble : NAN, tol);
    }
    cJSON_Delete(a);
    cJSON_Delete(b);
    return ok;
}

static int compare_logs(const char *dir_a, const char *dir_b, double tolerance)
{
    char path[2][4096];
    snprintf(path[0], sizeof path[0], "%s/log.jsonl", dir_a);
    snprintf(path[1], sizeof path[1], "%s/log.jsonl", dir_b);
    FILE *a = fopen(path[0], "r"), *b = fopen(path[1], "r");
    char la[4096], lb[4096];
    int ok = a && b, line = 0;
    while (ok) {
        int more_a = fgets(la, sizeof la, a) != NULL, more_b = fgets(lb, sizeof lb, b) != NULL;
        line++;
        if (more_a != more_b) {
            printf("%s has %s lines than %s\n", path[0], more_a ? "more" : "fewer", path[1]);
            ok = 0;
        }
        if (!more_a || !more_b)
            break;
        ok = compare_line(la, lb, tolerance, line);
    }
    if (!a || !b)
        printf("cannot read %s\n", a ? path[1] : path[0]);
    if (ok && line < 2)
        printf("%s is empty\n", path[0]), ok = 0;
    if (a)
        fclose(a);
    if (b)
        fclose(b);
    return ok;
}

static int compare_weights(const char *dir_a, const char *dir_b, double tolerance)
{
    char path[2][4096];
    vkq_llama_config cfg[2];
    float *w[2] = {NULL, NULL};
    for (int i = 0; i < 2; i++) {
        snprintf(path[i], sizeof path[i], "%s/model.bin", i ? dir_b : dir_a);
        if (vkq_llama2c_read(path[i], &cfg[i], &w[i]) != VKQ_OK) {
            printf("%s\n", vkq_last_error());
            free(w[0]);
            return 0;
        }
    }
    vkq_llama_tensors layout[2];
    vkq_llama_tensors_of(&cfg[0], &layout[0]);
    vkq_llama_tensors_of(&cfg[1], &layout[1]);
    int ok = layout[0].total == layout[1].total;
    double diff = 0, norm = 0;
    for (size_t i = 0; ok && i < layout[0].total; i++) {
        diff += ((double)w[0][i] - w[1][i]) * ((double)w[0][i] - w[1][i]);
        norm += (double)w[0][i] * w[0][i];
    }
    if (!ok || sqrt(diff) > tolerance * sqrt(norm)) {
        printf("%s and %s differ: |a - b| / |a| = %.3g (allowed %g)\n", path[0], path[1],
               ok ? sqrt(diff / norm) : INFINITY, tolerance);
        ok = 0;
    }
    free(w[0]);
    free(w[1]);
    return ok;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: compare_runs RUN_A RUN_B TOLERANCE\n");
        return 2;
    }
    double tolerance = atof(argv[3]);
    int logs = compare_logs(argv[1], argv[2], tolerance);
    int weights = compare_weights(argv[1], argv[2], tolerance);
    return logs && weights ? 0 : 1;
}
