/* The small part of sh that runcmd lines may use: words with quotes and backslashes, "&&" and
 * ";" between pipelines, and a two-command pipeline ("echo ... | sha256sum -c -"). Anything a
 * shell would expand or redirect is refused, so a line is either understood whole or skipped. */
#ifndef DOSIM_SHELL_H
#define DOSIM_SHELL_H

#include "dosim_limits.h"

#include <stdbool.h>
#include <stddef.h>

#define DOSIM_SH_PIPES_MAX 16

struct dosim_sh_cmd {
    int argc;
    const char *argv[DOSIM_ARGV_MAX + 1]; /* NULL-terminated; point into the line's buffer */
};

struct dosim_sh_pipe {
    struct dosim_sh_cmd cmd[2];
    int ncmd;
    char op; /* how it follows the previous one: 0 (first), '&' (&&) or ';' */
};

struct dosim_sh_line {
    struct dosim_sh_pipe pipe[DOSIM_SH_PIPES_MAX];
    int npipe;
    char buf[DOSIM_LINE_MAX * 2];
    size_t used;
};

/* Parses line; false with *why (a static sentence) when it uses more of sh than this. */
bool dosim_sh_parse(struct dosim_sh_line *out, const char *line, const char **why);

/* A line holding one command made of argv (an argv-form runcmd entry); false when too big. */
bool dosim_sh_from_argv(struct dosim_sh_line *out, const char *const *argv, int argc);

#endif
