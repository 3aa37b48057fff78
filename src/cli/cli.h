/* The command line: each command parses its own options and turns statuses into one message. */
#ifndef VKQ_CLI_H
#define VKQ_CLI_H

#include <stdint.h>

#include "vkquill/status.h"

/* CLI_STRING is never empty (a file, a directory, a name); CLI_TEXT may be. */
typedef enum cli_arg_type { CLI_FLAG, CLI_U32, CLI_FLOAT, CLI_STRING, CLI_TEXT } cli_arg_type;

typedef struct cli_option {
    const char *name; /* "--m" */
    cli_arg_type type;
    void *dest;       /* int for flags, uint32_t, float, const char * */
} cli_option;

/* Parses argv[first..argc) against opts; unknown options, missing or malformed values fail
 * with a message naming the command and the option. */
vkq_status cli_parse(const char *command, int argc, char **argv, int first,
                     const cli_option *opts, int count);

/* Prints "vkquill: error: <message>" on one line (control characters and bytes that are not
 * UTF-8 escaped) and returns the exit code for status. */
int cli_fail(vkq_status status);

double cli_now_seconds(void);

/* The context of this process: under mpirun, on the device its rank on this machine picks
 * among all devices (modulo their count), unless VKQ_DEVICE names one. */
struct vkq_ctx;
vkq_status cli_rank_context(struct vkq_ctx **ctx);

/* Prints a JSON object as one line on stdout and frees it. */
struct cJSON;
void cli_emit_json(struct cJSON *o);

int cmd_devices(int argc, char **argv);
int cmd_selftest(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_init(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_data(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_plan(int argc, char **argv);
int cmd_merge(int argc, char **argv);
vkq_status cli_bench_train(int argc, char **argv);
vkq_status cli_bench_generate(int argc, char **argv);
vkq_status cli_bench_tokenize(int argc, char **argv);
vkq_status cli_bench_allreduce(int argc, char **argv);

#endif
