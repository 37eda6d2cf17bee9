/* The libFuzzer entry point every <name>_fuzz.c defines; declared here so the definitions
 * pass -Wmissing-prototypes. replay_main.c calls it for each corpus file when the compiler
 * has no libFuzzer (gcc). */
#ifndef DP_FUZZ_H
#define DP_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
