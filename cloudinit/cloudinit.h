/* User-data documents for droplets: what the controller and the snapshot builder send as
 * DigitalOcean's user_data. Each document is an embedded template (templates/) filled with
 * checked values; see cloudinit_template.h for the machinery and the size limit. */
#ifndef CLOUDINIT_H
#define CLOUDINIT_H

#include "cloudinit_template.h"
#include "dp_buf.h"

#include <stddef.h>

#define CLOUDINIT_ALLOW_MAX    16  /* allowed controller addresses in one document */
#define CLOUDINIT_HOSTNAME_MAX 253 /* bytes, RFC 1123 */
#define CLOUDINIT_CHAIN_MAX    16  /* certificates in tls_cert_pem */

/* Provision-time input: what a server made from the base snapshot needs to serve. */
struct cloudinit_provision {
    const char *agent_key;    /* DP_KEY_MIN..DP_KEY_MAX printable ASCII, no spaces */
    const char *tls_cert_pem; /* one or more CERTIFICATE blocks: the leaf, then its chain */
    const char *tls_key_pem;  /* one PRIVATE KEY, EC PRIVATE KEY or RSA PRIVATE KEY block */
    const char *const *allow; /* controller addresses: IPv4 "a.b.c.d" or "a.b.c.d/n" */
    size_t nallow;            /* 1..CLOUDINIT_ALLOW_MAX */
    const char *hostname;     /* NULL: keep the droplet's name; else an RFC 1123 host name */
    const char *git_ca_pem;   /* NULL, or CERTIFICATE blocks the agent trusts for https:// git
                                 clones (a private git server), written to
                                 /etc/node-agent/git-ca.pem and named in agent.conf */
};

/* Renders the provision-time #cloud-config into out (initialized here): it writes
 * /etc/node-agent/key (0600, exactly the key), tls.crt (0644), tls.key (0600) and agent.conf
 * (HTTPS on 0.0.0.0:9999, one "allow = " line per address), then restarts node-agent.
 * Every value is checked first; a bad one is DP_EINVAL with code "invalid_<field>" and a
 * message naming the field (agent_key, tls_cert, tls_key, allow[i], hostname), never a
 * secret. A document of CLOUDINIT_USER_DATA_MAX + 1 bytes or more is DP_ETOOBIG
 * ("user_data_too_large"). On success release out with cloudinit_wipe() (it holds the key);
 * on failure out is empty. */
dp_rc cloudinit_provision_render(struct dp_buf *out, const struct cloudinit_provision *in,
                                 struct dp_err *err);

#endif
