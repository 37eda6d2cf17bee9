#include "dp_privdrop.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <unistd.h>

dp_rc dp_privdrop_lookup(uid_t *uid, gid_t *gid, const char *user, struct dp_err *err)
{
    struct passwd pw, *res = NULL;
    char buf[4096];

    if (getpwnam_r(user, &pw, buf, sizeof(buf), &res) != 0 || !res)
        return dp_err_set(err, DP_EINVAL, "no user named '%.64s'", user);
    *uid = pw.pw_uid;
    *gid = pw.pw_gid;
    return DP_OK;
}

dp_rc dp_privdrop(const char *user, struct dp_err *err)
{
    uid_t uid = (uid_t)-1;
    gid_t gid = (gid_t)-1;
    dp_rc rc = dp_privdrop_lookup(&uid, &gid, user, err);

    if (rc)
        return rc;
    if (getuid() == uid && geteuid() == uid)
        return DP_OK;
    /* glibc applies set*id to every thread of the process. */
    if (initgroups(user, gid) != 0 || setgid(gid) != 0 || setuid(uid) != 0)
        return dp_err_set(err, DP_EAUTH, "cannot become user '%.64s': %s", user, strerror(errno));
    if (uid != 0 && (setuid(0) == 0 || seteuid(0) == 0))
        return dp_err_set(err, DP_EINTERNAL, "root could be regained after dropping to '%.64s'",
                          user);
    return DP_OK;
}
