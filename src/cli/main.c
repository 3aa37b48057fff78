#include <stdio.h>
#include <string.h>

#include "base/status_internal.h"
#include "base/text.h"
#include "cli/cli.h"

static const char usage[] =
    "usage: vkquill <command> [options]\n"
    "\n"
    "commands:\n"
    "  demo [--out DIR] [--model M.bin --tokenizer T.bin] [--full | --sweep] [--quick]\n"
    "       [--users U] [--per-user N] [--steps S] [--seeds K] [--points P] [--batch B]\n"
    "       [--lr LR] [--warmup W] [--delta D] [--history-k K]\n"
    "                                   the synthetic personalization benchmark: fine-tunes\n"
    "                                   the base (assets/base) with sft and nextquill (--full:\n"
    "                                   every method and variant), learning curves, paired\n"
    "                                   intervals and a verdict, writes a report\n"
    "  devices [--json]                 list Vulkan devices and what they support\n"
    "  selftest [--kernel NAME] [--variant cpu|gpu] [--list] [--json]\n"
    "                                   check every kernel against its C reference\n"
    "  bench matmul [--m M --n N --k K] [--form nn|nt|tn] [--batch B] [--runs R] [--json]\n"
    "                                   matrix-product GFLOP/s and dispatch overheads\n"
    "  bench train --model MODEL [--batch B] [--seq T] [--runs R] [--json]\n"
    "        [--lora-r R --lora-targets q,v|all-linear] [--base-dtype auto|f32|bf16|f16]\n"
    "        [--recompute none|layers]\n"
    "                                   tokens/s and peak memory of a full training step\n"
    "  bench generate --model MODEL [--batch B] [--seq N] [--json]\n"
    "                                   tokens/s of batched decoding with a KV cache\n"
    "  bench allreduce [--mib M] [--bucket-mib B] [--runs R] [--json]\n"
    "                                   GB/s of the gradient sum over the ranks (under\n"
    "                                   mpirun -np N)\n"
    "  bench tokenize --tokenizer T[,T...] [--file F] [--mb N] [--json]\n"
    "                                   MB/s of encoding a text of N MB (default 4), a line\n"
    "                                   at a time, with each tokenizer\n"
    "  tokenize --tokenizer T (--text TEXT | --file F) [--json]\n"
    "                                   a text's token ids, and each token's text; T is a\n"
    "                                   tok.bin, a tokenizer.json or a directory holding one\n"
    "  generate --model MODEL [--adapter DIR] [--tokenizer T] (--prompt TEXT | --prompts-file F)\n"
    "           [--steps N] [--temperature T] [--top-p P] [--seed S]\n"
    "           [--repetition-penalty R] [--batch B]\n"
    "                                   continue prompts (temperature 0: greedy); a prompts\n"
    "                                   file (one a line) gives JSON lines\n"
    "  train --model MODEL [--tokenizer T] --data train.jsonl --out RUN_DIR\n"
    "        [--method sft|mce|dce|nextquill] [--steps N] [--batch B] [--accum A] [--lr LR]\n"
    "        [--config cfg.json] [--resume] [--dce dynamic|fixed --ref-model MODEL]\n"
    "        [--weights threshold|js|uniform] [--align ce|kl] [--align-weighted]\n"
    "        [--alpha a --delta d --lambda l --eps e] [--schedule linear|cosine|constant]\n"
    "        [--warmup fraction] [--clip c] [--history-k k] [--max-prompt-tokens n]\n"
    "        [--max-target-tokens n] [--template t.json] [--skip-bad] [--seed s]\n"
    "        [--chat-template auto|none|chatml|llama3|inst]\n"
    "        [--val val.jsonl --probe-every K] [--save-every K]\n"
    "        [--lora-r R --lora-alpha A --lora-dropout P --lora-targets q,v|all-linear]\n"
    "        [--recompute none|layers] [--base-dtype auto|f32|bf16|f16] [--adapter DIR]\n"
    "                                   personalise a model (every option also in the JSON\n"
    "                                   configuration, with underscores: max_prompt_tokens);\n"
    "                                   the result is RUN_DIR/model (a Hugging Face model in,\n"
    "                                   a directory out) or RUN_DIR/model.bin (llama2.c);\n"
    "                                   under LoRA also RUN_DIR/adapter (PEFT); --adapter\n"
    "                                   starts the adapters from a PEFT directory;\n"
    "                                   under mpirun -np N, N ranks of --batch each\n"
    "  plan --model (M.bin | DIR | config.json) [--method M] [--batch B]\n"
    "       [--seq T | --max-prompt-tokens n --max-target-tokens n] [--lora-r R --lora-alpha A\n"
    "       --lora-dropout P --lora-targets T] [--recompute none|layers] [--variant cpu|gpu]\n"
    "       [--base-dtype auto|f32|bf16|f16] [--heap-gib 8,16,32] [--json]\n"
    "                                   the device memory a training run would take, by part,\n"
    "                                   without reading weights, and whether it fits each heap\n"
    "                                   of the devices present (or of the sizes given)\n"
    "  eval --model MODEL [--adapter DIR] [--tokenizer T] --data test.jsonl [--out DIR]\n"
    "       [--history-k k] [--max-new-tokens n] [--repetition-penalty r] [--without-history]\n"
    "       [--json] [--template t.json] [--chat-template auto|none|chatml|llama3|inst]\n"
    "                                   greedy generation with history, ROUGE-1/L and BLEU\n"
    "  data synth --out DIR [--users U] [--per-user N] [--seed S]\n"
    "                                   write the synthetic personalization benchmark:\n"
    "                                   train/val/test JSONL and the truth of every target\n"
    "  data convert (--lamp QUESTIONS.json OUTPUTS.json [--skip-bad] | --text FILE.txt)\n"
    "               --out FILE.jsonl    LaMP / LongLaMP, or plain text (a sample a paragraph),\n"
    "                                   as native JSONL for train and eval --data\n"
    "  init --out DIR [--dim D --hidden H --layers L --heads N --kv-heads K --seq-len T]\n"
    "       [--seed S]                  a random model and a byte-level tokenizer, to train\n"
    "                                   from scratch\n"
    "  convert --model M.bin --out DIR [--dtype f32|bf16|f16]\n"
    "                                   a llama2.c checkpoint as a Hugging Face directory\n"
    "  export gguf --model DIR --out FILE.gguf [--type f16|bf16|f32]\n"
    "                                   a Hugging Face model directory (Llama, Mistral,\n"
    "                                   Qwen2, Qwen3) as a GGUF file for llama.cpp and\n"
    "                                   ollama, tokenizer included (default type: the\n"
    "                                   weights' own)\n"
    "  merge --model BASE --adapter DIR --out OUT\n"
    "                                   a PEFT LoRA adapter folded into its base, written in\n"
    "                                   the base's format and dtype\n"
    "  help                             this text\n"
    "\n"
    "MODEL is a Hugging Face directory (config.json, model.safetensors; its tokenizer.json is\n"
    "the tokenizer unless --tokenizer names one) or a llama2.c file (--tokenizer required).\n"
    "--adapter DIR (generate, eval) runs MODEL with a PEFT LoRA adapter folded in.\n"
    "\n"
    "environment:\n"
    "  VKQ_DEVICE=<index|name>  device to use      VKQ_VARIANT=cpu|gpu  kernel variant\n"
    "  VKQ_VALIDATE=1           Vulkan validation  VKQ_PROFILE=1        per-kernel times\n";

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage, stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        fputs(usage, stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0) {
        puts("vkquill 0.1.0");
        return 0;
    }
    if (strcmp(cmd, "devices") == 0)
        return cmd_devices(argc, argv);
    if (strcmp(cmd, "selftest") == 0)
        return cmd_selftest(argc, argv);
    if (strcmp(cmd, "bench") == 0)
        return cmd_bench(argc, argv);
    if (strcmp(cmd, "generate") == 0)
        return cmd_generate(argc, argv);
    if (strcmp(cmd, "train") == 0)
        return cmd_train(argc, argv);
    if (strcmp(cmd, "init") == 0)
        return cmd_init(argc, argv);
    if (strcmp(cmd, "eval") == 0)
        return cmd_eval(argc, argv);
    if (strcmp(cmd, "data") == 0)
        return cmd_data(argc, argv);
    if (strcmp(cmd, "demo") == 0)
        return cmd_demo(argc, argv);
    if (strcmp(cmd, "tokenize") == 0)
        return cmd_tokenize(argc, argv);
    if (strcmp(cmd, "convert") == 0)
        return cmd_convert(argc, argv);
    if (strcmp(cmd, "export") == 0)
        return cmd_export(argc, argv);
    if (strcmp(cmd, "plan") == 0)
        return cmd_plan(argc, argv);
    if (strcmp(cmd, "merge") == 0)
        return cmd_merge(argc, argv);
    return cli_fail(vkq_fail(VKQ_ERR_INVALID_ARGUMENT,
                             "unknown command '%s'; 'vkquill help' lists the commands",
                             VKQ_QUOTE(cmd)));
}
