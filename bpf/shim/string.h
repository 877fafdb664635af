/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * <string.h> for the BPF target.  The shared headers the program includes
 * (sluice/conntrack.h -> pkt_meta.h -> flow_key.h) include <string.h>
 * for inline functions the program never calls; glibc's own header cannot
 * be compiled for -target bpf (it wants gnu/stubs-32.h).  With
 * -ffreestanding clang's <stdint.h> and <stdbool.h> stand alone; this
 * stands in for the rest.  Only constant-size calls compile to BPF.
 */
#ifndef SLUICE_BPF_SHIM_STRING_H
#define SLUICE_BPF_SHIM_STRING_H

#define memcpy __builtin_memcpy
#define memset __builtin_memset
#define memcmp __builtin_memcmp

#endif
