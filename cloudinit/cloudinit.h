/* User-data documents for droplets: what the controller and the snapshot builder send as
 * DigitalOcean's user_data. Each document is an embedded template (templates/) filled with
 * checked values; see cloudinit_template.h for the machinery and the size limit. */
#ifndef CLOUDINIT_H
#define CLOUDINIT_H

#include "cloudinit_template.h"
#include "dp_buf.h"
#include "dp_snapshot.h"

#include <stddef.h>

#define CLOUDINIT_ALLOW_MAX    16   /* allowed controller addresses in one document */
#define CLOUDINIT_HOSTNAME_MAX 253  /* bytes, RFC 1123 */
#define CLOUDINIT_CHAIN_MAX    16   /* certificates in tls_cert_pem */
#define CLOUDINIT_PACKAGES_MAX 64   /* extra Debian packages in one bake */
#define CLOUDINIT_PACKAGE_MAX  128  /* bytes of one package name */
#define CLOUDINIT_URL_MAX      2048 /* bytes of the agent package URL */

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

/* Bake-time input: what a droplet that becomes a snapshot needs (Docker, the agent package, the
 * firewall, a one-time bake key). No user's key is ever part of it. */
struct cloudinit_bake {
    const char *agent_url; /* http(s) URL of the agent package (.tar.gz archive the build makes) */
    const char *agent_sha256; /* 64 lowercase hex */
    const char *bake_key; /* one-time bake key, DP_KEY_MIN..DP_KEY_MAX printable ASCII, no spaces */
    const char *const *allow;     /* addresses allowed to reach port 9999: IPv4 "a.b.c.d" or CIDR */
    size_t nallow;                /* 1..CLOUDINIT_ALLOW_MAX */
    const char *const *ssh_allow; /* emergency admin addresses for SSH; 0 entries: no SSH at all */
    size_t nssh;
    const char *const
        *packages; /* extra Debian packages (bake custom), names checked [a-z0-9][a-z0-9+.-]* */
    size_t npackages;
};

/* Renders the bake-time #cloud-config for Debian 12 into out (initialized here). It installs
 * docker.io, nftables, curl and the agent's Debian dependencies plus the extra packages (with
 * an update and upgrade first), writes /etc/node-agent/bake-key (0600, exactly the key), an
 * agent.conf (0.0.0.0:9999, the allow lines, bake-key-file), the firewall
 * /etc/node-agent/firewall.nft and its unit node-agent-firewall.service (port 9999 only from
 * allow, port 22 only from ssh_allow or not at all, forwarded traffic to 169.254.169.254
 * dropped); then runcmd, under set -e: loads the firewall and enables its unit, downloads the
 * package, checks it with sha256sum -c, unpacks it onto /, moves the agent.conf into place
 * (the package carries a default one), enables and restarts node-agent. Every value is
 * checked first; a bad one is DP_EINVAL with code "invalid_<field>" (agent_url, agent_sha256,
 * bake_key, allow, ssh_allow, packages) and a message naming the field, never the key. Past
 * CLOUDINIT_USER_DATA_MAX it is DP_ETOOBIG ("user_data_too_large"). On success release out
 * with cloudinit_wipe() (it holds the bake key); on failure out is empty. */
dp_rc cloudinit_bake_render(struct dp_buf *out, const struct cloudinit_bake *in,
                            struct dp_err *err);

/* cloudinit_bake_render in the shape infra's snapshot service calls it (dp_snapshot_render_fn);
 * the controller and the snapshot builder both hand it over. ud is unused. */
dp_rc cloudinit_render_snapshot_doc(void *ud, struct dp_buf *out, const struct dp_snapshot_doc *in,
                                    struct dp_err *err);

#endif
