/* state.json: the account's objects, written whole (temp file + rename) after every change
 * when --state-dir is given, and read back at start, so a restarted dosim brings its droplets
 * (addresses, roots, agents) back. */
#ifndef DOSIM_PERSIST_H
#define DOSIM_PERSIST_H

#include "dosim.h"

#include "dp_err.h"

/* Writes <state_dir>/state.json; under mu. */
dp_rc dosim_persist_save(struct dosim *sim, struct dp_err *err);

/* Reads <state_dir>/state.json when it exists (nothing to do otherwise): objects, ids, the
 * sim id; droplets get their addresses back (a new one when the old is taken) and in-progress
 * actions are queued again. Before workers and the server start. */
dp_rc dosim_persist_load(struct dosim *sim, struct dp_err *err);

#endif
