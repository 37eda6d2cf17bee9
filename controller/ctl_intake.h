/* Reading a deploy request in the forms users send it: JSON (code as base64), or a
 * multipart/form-data form with the same fields and a file part (spooled, never held whole). */
#ifndef CTL_INTAKE_H
#define CTL_INTAKE_H

#include "ctl.h"
#include "dp_deploy.h"

/* Parses and validates the request into *out; for code, prepares the checked tar (dp_code) and
 * sets out->code_tar. On failure nothing is left in spool_dir. */
dp_rc ctl_intake_deploy(struct dp_deploy_req *out, struct dp_req *rq, struct ctl *c,
                        struct dp_err *err);

/* POST /infra/deploy/upload?server_ip=&path=[&clean=1]: code (tar or zip body, or a multipart
 * file part) checked and sent to that server's agent. *out: the agent's answer. */
dp_rc ctl_intake_upload(json_t **out, struct dp_req *rq, struct ctl *c, struct dp_err *err);

#endif
