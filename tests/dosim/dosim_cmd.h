/* The commands runcmd understands, each as a check (is this use understood, without side
 * effects) and a run (returns the exit status the real command would). Internal to runcmd. */
#ifndef DOSIM_CMD_H
#define DOSIM_CMD_H

#include "dosim_runcmd.h"
#include "dosim_shell.h"

#include <stdbool.h>
#include <stddef.h>

/* curl -fsSL -o PATH URL (see README for the options). */
bool dosim_cmd_curl_ok(const struct dosim_sh_cmd *c);
int dosim_cmd_curl(struct dosim_ci *ci, const struct dosim_sh_cmd *c);

/* sha256sum -c [--status|--quiet] [FILE|-]; stdin_text is what a pipe feeds it (or NULL). */
bool dosim_cmd_sha256sum_ok(const struct dosim_sh_cmd *c, bool piped);
int dosim_cmd_sha256sum(struct dosim_ci *ci, const struct dosim_sh_cmd *c, const char *stdin_text);

/* tar -xzf PATH [-C DIR]: unpacked into the root through dp_untar. */
bool dosim_cmd_tar_ok(const struct dosim_sh_cmd *c);
int dosim_cmd_tar(struct dosim_ci *ci, const struct dosim_sh_cmd *c);

/* systemctl daemon-reload | enable [--now] | disable [--now] | start | stop | restart |
 * try-restart | reload | reload-or-restart, for node-agent only. */
bool dosim_cmd_systemctl_ok(const struct dosim_sh_cmd *c);
int dosim_cmd_systemctl(struct dosim_ci *ci, const struct dosim_sh_cmd *c);

/* set -e / set -eu / set -o errexit ...; mkdir [-p]; rm [-f] [-r]; mv [-f] SRC DST; echo; true;
 * false; ':'. */
bool dosim_cmd_simple_ok(const struct dosim_sh_cmd *c);
int dosim_cmd_simple(struct dosim_ci *ci, const struct dosim_sh_cmd *c);

/* Writes the command's words into out for the log, -H/--header values masked and URL queries
 * cut ("+ curl -fsSL -o /tmp/x http://127.0.0.1:8/p?***"). */
void dosim_cmd_describe(char *out, size_t size, const struct dosim_sh_cmd *c);

#endif
