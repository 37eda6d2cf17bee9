/* The controller's spool folder: where uploads and prepared code wait while a deploy uses them.
 * One controller owns it at a time (an exclusive lock held for the process's life), so at
 * start it can remove what a crashed run left without touching another controller's files. */
#ifndef DP_SPOOL_H
#define DP_SPOOL_H

#include "dp_err.h"

/* Makes dir (0700) when missing, takes its lock (*lock_fd, kept open until exit) and removes the
 * files our own writers leave there (dp-code-*, dp-upload-*); *removed gets how many.
 * DP_ECONFLICT when another process holds the lock. */
dp_rc dp_spool_claim(const char *dir, int *lock_fd, int *removed, struct dp_err *err);

#endif
