/* A droplet's user-data, interpreted the way cloud-init would on first boot, against the
 * droplet's root folder: #cloud-config write_files (before boot), then the boot of enabled
 * units, then runcmd; a #! script runs line by line as runcmd strings. Everything else is
 * logged as skipped. The exact subset is in tests/dosim/README.md. */
#ifndef DOSIM_USERDATA_H
#define DOSIM_USERDATA_H

#include "dosim_runcmd.h"

/* Runs user_data (NULL or "" for none) with ci; ci's counters say what happened. */
void dosim_userdata_run(struct dosim_ci *ci, const char *user_data);

#endif
