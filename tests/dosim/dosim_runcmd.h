/* runcmd, the way dosim carries it out: each entry (a string for sh, or an argv list) is
 * understood whole or skipped and logged. Understood: curl downloads to loopback, sha256sum
 * checks, tar extraction into the root, systemctl for node-agent, set -e, sh -c, mkdir, rm,
 * mv, echo, true. Everything acts on the droplet's root folder, never on the host. */
#ifndef DOSIM_RUNCMD_H
#define DOSIM_RUNCMD_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

/* The unit verbs dosim passes on: "boot", "start", "stop", "restart", "try-restart", "reload",
 * "reload-or-restart". Returns the exit status systemctl would. */
typedef int (*dosim_unit_fn)(void *ud, const char *verb, FILE *log);

/* One run of a droplet's user-data. */
struct dosim_ci {
    int root_fd;
    const char *droplet_dir; /* holds root/ (tar stages next to it) */
    FILE *log;               /* the droplet's cloud-init-output.log */
    dosim_unit_fn unit;
    void *ud;
    bool errexit; /* "set -e" seen: the first failing entry ends runcmd */
    bool ended;   /* ... and it did */
    int entries, skipped, failed;
};

/* Appends a line to the droplet's log. */
void dosim_ci_log(struct dosim_ci *ci, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Runs one runcmd entry (string or array of strings). */
void dosim_runcmd_entry(struct dosim_ci *ci, const json_t *entry);

/* Runs one line of a #! script as if it were a runcmd string. */
void dosim_runcmd_line(struct dosim_ci *ci, const char *line);

#endif
