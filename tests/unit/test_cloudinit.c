/* The user-data renderer: the exact provision-time document, YAML quoting, every refusal (with
 * no secret in any message), the 64 KiB limit, and the template machinery underneath; the
 * bake-time document's values in place, its refusals and its largest rendering. Real
 * cloud-init and PyYAML read the renderings in tests/it/cloudinit_schema.sh. */
#include "cloudinit.h"
#include "cloudinit_pem.h"
#include "dp_limits.h"
#include "th.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Shape-valid PEMs; "U0VDUkVU" is base64 for SECRET, so a leaked body line is easy to spot. */
#define CERT  "-----BEGIN CERTIFICATE-----\nU0VDUkVU\n-----END CERTIFICATE-----\n"
#define CERT2 "-----BEGIN CERTIFICATE-----\nQUJD\n-----END CERTIFICATE-----\n"
#define PKEY  "-----BEGIN PRIVATE KEY-----\nU0VDUkVUS0VZ\n-----END PRIVATE KEY-----\n"
#define AKEY  "SECRET-key-0123456789"

static const char *const two_allow[] = {"10.0.0.0/8", "203.0.113.7"};

static struct cloudinit_provision good_input(void)
{
    struct cloudinit_provision in = {AKEY, CERT, PKEY, two_allow, 2, "web-1"};

    return in;
}

static const char golden[] =
    "#cloud-config\n"
    "# Provision-time user-data from the deploy platform: the node agent's key, TLS certificate "
    "and\n"
    "# key and the controllers it serves, then a restart so the agent starts with them.\n"
    "hostname: \"web-1\"\n"
    "write_files:\n"
    "  - path: /etc/node-agent/key\n"
    "    owner: root:root\n"
    "    permissions: '0600'\n"
    "    content: \"SECRET-key-0123456789\"\n"
    "  - path: /etc/node-agent/tls.crt\n"
    "    owner: root:root\n"
    "    permissions: '0644'\n"
    "    content: |\n"
    "      -----BEGIN CERTIFICATE-----\n"
    "      U0VDUkVU\n"
    "      -----END CERTIFICATE-----\n"
    "  - path: /etc/node-agent/tls.key\n"
    "    owner: root:root\n"
    "    permissions: '0600'\n"
    "    content: |\n"
    "      -----BEGIN PRIVATE KEY-----\n"
    "      U0VDUkVUS0VZ\n"
    "      -----END PRIVATE KEY-----\n"
    "  - path: /etc/node-agent/agent.conf\n"
    "    owner: root:root\n"
    "    permissions: '0644'\n"
    "    content: |\n"
    "      listen = 0.0.0.0:9999\n"
    "      key-file = /etc/node-agent/key\n"
    "      tls-cert = /etc/node-agent/tls.crt\n"
    "      tls-key = /etc/node-agent/tls.key\n"
    "      data-root = /var/lib/node-agent\n"
    "      docker-socket = /var/run/docker.sock\n"
    "      allow = 10.0.0.0/8\n"
    "      allow = 203.0.113.7\n"
    "runcmd:\n"
    "  - [systemctl, enable, node-agent]\n"
    "  - [systemctl, restart, node-agent]\n";

static void renders_known_bytes(void)
{
    struct cloudinit_provision in = good_input();
    struct dp_buf doc;

    TH_EQ_INT(cloudinit_provision_render(&doc, &in, NULL), DP_OK);
    TH_EQ_STR(doc.data, golden);
    TH_EQ_INT(doc.len, strlen(golden));
    cloudinit_wipe(&doc);
    TH_CHECK(doc.data == NULL && doc.len == 0);
}

static void no_hostname_drops_its_line(void)
{
    struct cloudinit_provision in = good_input();
    const char *line = "hostname: \"web-1\"\n";
    const char *at = strstr(golden, line);
    struct dp_buf doc;
    char want[sizeof(golden)];

    in.hostname = NULL;
    snprintf(want, sizeof(want), "%.*s%s", (int)(at - golden), golden, at + strlen(line));
    TH_EQ_INT(cloudinit_provision_render(&doc, &in, NULL), DP_OK);
    TH_EQ_STR(doc.data, want);
    cloudinit_wipe(&doc);
}

static void awkward_values_are_quoted(void)
{
    static const char *const many[] = {"1.1.1.1",  "2.2.2.2/32", "3.3.0.0/16", "4.0.0.0/8",
                                       "5.5.5.5",  "6.6.6.6",    "7.7.7.7",    "8.8.8.8",
                                       "9.9.9.9",  "10.1.1.1",   "11.1.1.1",   "12.1.1.1",
                                       "13.1.1.1", "14.1.1.1",   "15.1.1.1",   "0.0.0.0/0"};
    struct cloudinit_provision in = {
        "\"k#ey:'x'\\y{}[]&*!|>%@`-?", CERT2 CERT2 CERT, PKEY, many, 16, NULL};
    struct dp_buf doc;

    TH_EQ_INT(cloudinit_provision_render(&doc, &in, NULL), DP_OK);
    TH_CHECK(doc.data && strstr(doc.data, "    content: \"\\\"k#ey:'x'\\\\y{}[]&*!|>%@`-?\"\n"));
    TH_CHECK(doc.data &&
             strstr(doc.data, "      -----END CERTIFICATE-----\n      -----BEGIN CERTIFICATE-----"
                              "\n      QUJD\n") != NULL);
    TH_CHECK(doc.data &&
             strstr(doc.data, "      allow = 15.1.1.1\n      allow = 0.0.0.0/0\nruncmd:\n"));
    cloudinit_wipe(&doc);
}

static void pem_without_final_newline_strips(void)
{
    struct cloudinit_provision in = good_input();
    struct dp_buf doc;

    in.tls_key_pem = "-----BEGIN EC PRIVATE KEY-----\nQUJD\n-----END EC PRIVATE KEY-----";
    TH_EQ_INT(cloudinit_provision_render(&doc, &in, NULL), DP_OK);
    TH_CHECK(doc.data &&
             strstr(doc.data, "    content: |-\n      -----BEGIN EC PRIVATE KEY-----\n      QUJD\n"
                              "      -----END EC PRIVATE KEY-----\n  - path: /etc/node-agent/"
                              "agent.conf\n") != NULL);
    cloudinit_wipe(&doc);
}

enum field { F_KEY, F_CERT, F_TKEY, F_HOST };

struct refusal {
    enum field field;
    const char *value;
    const char *code;
};

static const struct refusal refusals[] = {
    {F_KEY, "SECRET-short123", "invalid_agent_key"}, /* 15 characters */
    {F_KEY, "SECRET-key with-space", "invalid_agent_key"},
    {F_KEY, "SECRET-key\twith-tab", "invalid_agent_key"},
    {F_KEY, "SECRET-key-newline\n", "invalid_agent_key"},
    {F_KEY, "SECRET-key-del\x7f-0123", "invalid_agent_key"},
    {F_KEY, "SECRET-key-\xc3\xa9-utf8", "invalid_agent_key"},
    {F_KEY, "", "invalid_agent_key"},
    {F_CERT, "", "invalid_tls_cert"},
    {F_CERT, "-----BEGIN CERTIFICATE-----\nU0VDUkVU\n", "invalid_tls_cert"},
    {F_CERT, "subject=CN SECRET\n" CERT, "invalid_tls_cert"},
    {F_CERT, CERT "trailing SECRET\n", "invalid_tls_cert"},
    {F_CERT, CERT "\n" CERT2, "invalid_tls_cert"},
    {F_CERT, CERT "\n", "invalid_tls_cert"},
    {F_CERT, "-----BEGIN CERTIFICATE-----\r\nU0VDUkVU\r\n-----END CERTIFICATE-----\r\n",
     "invalid_tls_cert"},
    {F_CERT, "-----BEGIN CERTIFICATE-----\nU0VD UkVU\n-----END CERTIFICATE-----\n",
     "invalid_tls_cert"},
    {F_CERT, "-----BEGIN CERTIFICATE-----\nU0U=\nU0VD\n-----END CERTIFICATE-----\n",
     "invalid_tls_cert"},
    {F_CERT, "-----BEGIN CERTIFICATE-----\nU0VDUkV\n-----END CERTIFICATE-----\n",
     "invalid_tls_cert"},
    {F_CERT, "-----BEGIN CERTIFICATE-----\nU0VDUkVU\n-----END PRIVATE KEY-----\n",
     "invalid_tls_cert"},
    {F_CERT, "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n", "invalid_tls_cert"},
    {F_CERT, PKEY, "invalid_tls_cert"},
    {F_TKEY, PKEY PKEY, "invalid_tls_key"},
    {F_TKEY, CERT, "invalid_tls_key"},
    {F_TKEY,
     "-----BEGIN ENCRYPTED PRIVATE KEY-----\nU0VDUkVU\n-----END ENCRYPTED PRIVATE KEY-----\n",
     "invalid_tls_key"},
    {F_TKEY,
     "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nU0VDUkVU\n-----END RSA PRIVATE "
     "KEY-----\n",
     "invalid_tls_key"},
    {F_TKEY, "-----BEGIN EC PARAMETERS-----\nQUJD\n-----END EC PARAMETERS-----\n" PKEY,
     "invalid_tls_key"},
    {F_HOST, "", "invalid_hostname"},
    {F_HOST, "-web", "invalid_hostname"},
    {F_HOST, "web-", "invalid_hostname"},
    {F_HOST, "a..b", "invalid_hostname"},
    {F_HOST, "web.", "invalid_hostname"},
    {F_HOST, "we_b", "invalid_hostname"},
    {F_HOST, "web 1", "invalid_hostname"},
    {F_HOST, "web\n1", "invalid_hostname"},
    {F_HOST, "web\"1", "invalid_hostname"},
    {F_HOST, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", /* 64 */
     "invalid_hostname"},
};

static const char *field_name(enum field f)
{
    static const char *const names[] = {"agent_key", "tls_cert", "tls_key", "hostname"};

    return names[f];
}

static void check_refusal(const struct refusal *r, size_t i)
{
    struct cloudinit_provision in = good_input();
    const char **slot[] = {&in.agent_key, &in.tls_cert_pem, &in.tls_key_pem, &in.hostname};
    struct dp_err err = {0};
    struct dp_buf doc;

    *slot[r->field] = r->value;
    TH_EQ_INT(cloudinit_provision_render(&doc, &in, &err), DP_EINVAL);
    TH_EQ_STR(err.code, r->code);
    TH_CHECK(strncmp(err.msg, field_name(r->field), strlen(field_name(r->field))) == 0);
    TH_CHECK(!strstr(err.msg, "SECRET") && !strstr(err.msg, "U0VD"));
    TH_CHECK(doc.data == NULL && doc.len == 0);
    if (err.rc != DP_EINVAL || strstr(err.msg, "SECRET"))
        fprintf(stderr, "  refusal %zu: %s: %s\n", i, err.code, err.msg);
}

static void each_refusal_names_its_field(void)
{
    for (size_t i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++)
        check_refusal(&refusals[i], i);
}

static void null_values_are_refused(void)
{
    struct cloudinit_provision in = good_input();
    struct dp_err err = {0};
    struct dp_buf doc;

    in.agent_key = NULL;
    TH_EQ_INT(cloudinit_provision_render(&doc, &in, &err), DP_EINVAL);
    TH_EQ_STR(err.code, "invalid_agent_key");
    in = good_input();
    in.tls_cert_pem = NULL;
    TH_EQ_INT(cloudinit_provision_render(&doc, &in, &err), DP_EINVAL);
    TH_EQ_STR(err.code, "invalid_tls_cert");
}

static void allow_rules(void)
{
    static const char *const bad[] = {"10.0.0.0/33", "10.0.0",     "bad",      "10.0.0.1 ",
                                      "1.2.3.4/ 8",  "1.2.3.4/",   "::1",      "1.2.3.4/8\n",
                                      "256.1.1.1",   "1.2.3.4/8/", "01.2.3.4", ""};
    static const char *const seventeen[17] = {"1.1.1.1", "1.1.1.1", "1.1.1.1", "1.1.1.1", "1.1.1.1",
                                              "1.1.1.1", "1.1.1.1", "1.1.1.1", "1.1.1.1", "1.1.1.1",
                                              "1.1.1.1", "1.1.1.1", "1.1.1.1", "1.1.1.1", "1.1.1.1",
                                              "1.1.1.1", "1.1.1.1"};
    struct cloudinit_provision in = good_input();
    struct dp_err err = {0};
    struct dp_buf doc;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *one[] = {"10.0.0.0/8", bad[i]};

        in.allow = one;
        in.nallow = 2;
        TH_EQ_INT(cloudinit_provision_render(&doc, &in, &err), DP_EINVAL);
        TH_EQ_STR(err.code, "invalid_allow");
        TH_CHECK(strncmp(err.msg, "allow[1]:", 9) == 0);
    }
    in.allow = seventeen;
    in.nallow = 17;
    TH_EQ_INT(cloudinit_provision_render(&doc, &in, &err), DP_EINVAL);
    TH_EQ_STR(err.code, "invalid_allow");
    in.nallow = 0;
    TH_EQ_INT(cloudinit_provision_render(&doc, &in, &err), DP_EINVAL);
    in.allow = NULL;
    in.nallow = 1;
    TH_EQ_INT(cloudinit_provision_render(&doc, &in, &err), DP_EINVAL);
}

/* A certificate with n base64 lines of 64 characters. */
static char *big_cert(size_t n)
{
    static const char head[] = "-----BEGIN CERTIFICATE-----\n",
                      tail[] = "-----END CERTIFICATE-----\n";
    size_t size = sizeof(head) + n * 65 + sizeof(tail);
    char *p = malloc(size), *w = p;

    w += snprintf(w, size, "%s", head);
    for (size_t i = 0; i < n; i++)
        w += snprintf(w, size - (size_t)(w - p), "%.64s\n",
                      "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5");
    snprintf(w, size - (size_t)(w - p), "%s", tail);
    return p;
}

/* A valid host name of exactly len characters (labels of at most 50). */
static void make_hostname(char *h, size_t len)
{
    memset(h, 'a', len);
    h[len] = '\0';
    for (size_t i = 50; i + 1 < len; i += 51)
        h[i] = '.';
}

static size_t render_len(struct cloudinit_provision *in, dp_rc *rc, struct dp_err *err)
{
    struct dp_buf doc;
    size_t len;

    *rc = cloudinit_provision_render(&doc, in, err);
    len = doc.len;
    cloudinit_wipe(&doc);
    return len;
}

static void limit_is_64_kib(void)
{
    struct cloudinit_provision in = good_input();
    struct dp_err err = {0};
    char host[CLOUDINIT_HOSTNAME_MAX + 1];
    size_t base, lines = 1, need;
    char *cert;
    dp_rc rc;

    in.hostname = NULL;
    in.tls_cert_pem = cert = big_cert(lines);
    base = render_len(&in, &rc, &err);
    free(cert);
    /* Each 64-character line adds 71 bytes (6 of indentation); "hostname: \"...\"\n" adds
     * 13 bytes plus the name, which tops the document up to the byte. */
    lines += (CLOUDINIT_USER_DATA_MAX - base - 13 - 252 + 70) / 71;
    in.tls_cert_pem = cert = big_cert(lines);
    need = CLOUDINIT_USER_DATA_MAX - render_len(&in, &rc, &err) - 13;
    TH_CHECK(need >= 1 && need < CLOUDINIT_HOSTNAME_MAX);
    make_hostname(host, need);
    in.hostname = host;
    TH_EQ_INT(render_len(&in, &rc, &err), CLOUDINIT_USER_DATA_MAX);
    TH_EQ_INT(rc, DP_OK);
    make_hostname(host, need + 1);
    TH_EQ_INT(render_len(&in, &rc, &err), 0);
    TH_EQ_INT(rc, DP_ETOOBIG);
    TH_EQ_STR(err.code, "user_data_too_large");
    free(cert);
    in.tls_cert_pem = cert = big_cert(2000);
    in.hostname = NULL;
    TH_EQ_INT(render_len(&in, &rc, &err), 0);
    TH_EQ_INT(rc, DP_ETOOBIG);
    free(cert);
}

static void expand(const char *tmpl, const struct cloudinit_var *vars, size_t n, dp_rc want_rc,
                   const char *want)
{
    struct dp_buf b;
    struct dp_err err = {0};

    dp_buf_init(&b, 4096);
    TH_EQ_INT(cloudinit_template_expand(&b, tmpl, vars, n, &err), want_rc);
    if (want_rc == DP_OK)
        TH_EQ_STR(b.data ? b.data : "", want);
    else
        TH_CHECK(strstr(err.msg, want) != NULL);
    dp_buf_clear(&b);
}

static void template_machinery(void)
{
    const struct cloudinit_var v[] = {
        {"t", CLOUDINIT_TEXT, "a\nb"},        {"q", CLOUDINIT_QUOTED, "x\"\\\x01y"},
        {"b", CLOUDINIT_BLOCK, "l1\nl2\n"},   {"none", CLOUDINIT_QUOTED, NULL},
        {"bad", CLOUDINIT_BLOCK, "l1\n\nl3"}, {"sp", CLOUDINIT_BLOCK, "l1\n l2"},
        {"u", CLOUDINIT_QUOTED, "\xc3\xa9"},
    };

    expand("  k: {{t}}\nz", v, 7, DP_OK, "  k: a\n  b\nz");
    expand("q: {{q}}\n", v, 7, DP_OK, "q: \"x\\\"\\\\\\x01y\"\n");
    expand("  c: {{b}}\n", v, 7, DP_OK, "  c: |\n    l1\n    l2\n");
    expand("a\nh: {{?none}}\nb\n", v, 7, DP_OK, "a\nb\n");
    expand("h: {{none}}\n", v, 7, DP_EINTERNAL, "missing");
    expand("{{nope}}\n", v, 7, DP_EINTERNAL, "unknown value 'nope'");
    expand("{{t\n}}\n", v, 7, DP_EINTERNAL, "unterminated");
    expand("c: {{bad}}\n", v, 7, DP_EINVAL, "bad");
    expand("c: {{sp}}\n", v, 7, DP_EINVAL, "sp");
    expand("c: {{u}}\n", v, 7, DP_EINVAL, "u is not ASCII");
    expand("no placeholders, no newline", v, 7, DP_OK, "no placeholders, no newline");
}

static void embedded_templates(void)
{
    const char *t = cloudinit_template_find("provision");
    struct dp_buf b;
    struct dp_err err = {0};

    TH_CHECK(t && strncmp(t, "#cloud-config\n", 14) == 0);
    t = cloudinit_template_find("bake");
    TH_CHECK(t && strncmp(t, "#cloud-config\n", 14) == 0);
    TH_CHECK(cloudinit_template_find("nope") == NULL);
    TH_EQ_INT(cloudinit_render(&b, "nope", NULL, 0, &err), DP_EINTERNAL);
    TH_CHECK(b.data == NULL);
}

static void pem_chain_limit(void)
{
    static const char *const labels[] = {"CERTIFICATE", NULL};
    struct dp_err err = {0};

    TH_EQ_INT(cloudinit_pem_check(CERT CERT2 CERT, "c", labels, 3, &err), DP_OK);
    TH_EQ_INT(cloudinit_pem_check(CERT CERT2 CERT, "c", labels, 2, &err), DP_EINVAL);
    TH_CHECK(strstr(err.msg, "c: line 7:") == err.msg);
}

/* --- Bake-time user-data. */

#define SHA  "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define BKEY "SECRET-bake-0123456789"
#define PURL "http://203.0.113.5:8080/agent/node-agent-0.1.0-linux-amd64.tar.gz"

static const char *const one_ssh[] = {"198.51.100.7"};
static const char *const two_pkgs[] = {"htop", "null"};

static struct cloudinit_bake good_bake(void)
{
    struct cloudinit_bake in = {PURL, SHA, BKEY, two_allow, 2, one_ssh, 1, two_pkgs, 2};

    return in;
}

static bool has(const struct dp_buf *doc, const char *frag)
{
    bool found = doc->data && strstr(doc->data, frag) != NULL;

    if (!found)
        fprintf(stderr, "  missing from the bake document: %s\n", frag);
    return found;
}

static void bake_renders_values_in_place(void)
{
    struct cloudinit_bake in = good_bake();
    struct dp_buf doc;

    TH_EQ_INT(cloudinit_bake_render(&doc, &in, NULL), DP_OK);
    TH_CHECK(doc.data && strncmp(doc.data, "#cloud-config\n", 14) == 0);
    TH_CHECK(doc.data && !strstr(doc.data, "{{") && !strstr(doc.data, "}}"));
    TH_CHECK(has(&doc, "packages:\n  - docker.io\n  - nftables\n"));
    TH_CHECK(has(&doc, "  - libgit2-1.5\n  - \"htop\"\n  - \"null\"\nwrite_files:\n"));
    TH_CHECK(has(&doc, "  - path: /etc/node-agent/bake-key\n    owner: root:root\n"
                       "    permissions: '0600'\n    content: \"" BKEY "\"\n"));
    TH_CHECK(has(&doc, "      bake-key-file = /etc/node-agent/bake-key\n"
                       "      data-root = /var/lib/node-agent\n"
                       "      docker-socket = /var/run/docker.sock\n"
                       "      allow = 10.0.0.0/8\n      allow = 203.0.113.7\n  - path: "));
    TH_CHECK(has(&doc, "          iif \"lo\" accept\n"
                       "          tcp dport 9999 ip saddr { 10.0.0.0/8, 203.0.113.7 } accept\n"
                       "          tcp dport 9999 drop\n"
                       "          tcp dport 22 ip saddr { 198.51.100.7 } accept\n"
                       "          tcp dport 22 drop\n        }\n"));
    TH_CHECK(has(&doc, "          ip daddr 169.254.169.254 drop\n"));
    TH_CHECK(
        has(&doc, "  - [curl, -fsSL, --retry, '5', -o, /tmp/node-agent.tar.gz, \"" PURL "\"]\n"));
    TH_CHECK(has(&doc, "  - 'echo \"" SHA "  /tmp/node-agent.tar.gz\" | sha256sum -c -'\n"));
    TH_CHECK(has(&doc, "  - [mv, -f, /etc/node-agent/agent.conf.bake, /etc/node-agent/agent.conf]\n"
                       "  - [systemctl, daemon-reload]\n  - [systemctl, enable, node-agent]\n"
                       "  - [systemctl, restart, node-agent]\n"));
    TH_CHECK(doc.data && doc.data[doc.len - 1] == '\n');
    cloudinit_wipe(&doc);
}

static void bake_without_ssh_or_packages(void)
{
    struct cloudinit_bake in = good_bake();
    struct dp_buf doc;

    in.ssh_allow = NULL;
    in.nssh = 0;
    in.packages = NULL;
    in.npackages = 0;
    TH_EQ_INT(cloudinit_bake_render(&doc, &in, NULL), DP_OK);
    TH_CHECK(has(&doc, "          tcp dport 9999 drop\n          tcp dport 22 drop\n        }\n"));
    TH_CHECK(doc.data && !strstr(doc.data, "dport 22 ip saddr"));
    TH_CHECK(has(&doc, "  - libgit2-1.5\nwrite_files:\n"));
    cloudinit_wipe(&doc);
}

static void bake_at_every_maximum_fits(void)
{
    static char pkgs[CLOUDINIT_PACKAGES_MAX][CLOUDINIT_PACKAGE_MAX + 1];
    static char url[CLOUDINIT_URL_MAX + 2];
    const char *pp[CLOUDINIT_PACKAGES_MAX], *addrs[CLOUDINIT_ALLOW_MAX];
    char key[DP_KEY_MAX + 1];
    struct cloudinit_bake in = good_bake();
    struct dp_buf doc;

    for (size_t i = 0; i < CLOUDINIT_PACKAGES_MAX; i++) {
        memset(pkgs[i], 'a', CLOUDINIT_PACKAGE_MAX);
        pp[i] = pkgs[i];
    }
    for (size_t i = 0; i < CLOUDINIT_ALLOW_MAX; i++)
        addrs[i] = "255.255.255.255/32";
    memset(key, '~', DP_KEY_MAX);
    key[DP_KEY_MAX] = '\0';
    memset(url, 'u', CLOUDINIT_URL_MAX);
    memcpy(url, "https://", 8);
    in = (struct cloudinit_bake){url,
                                 SHA,
                                 key,
                                 addrs,
                                 CLOUDINIT_ALLOW_MAX,
                                 addrs,
                                 CLOUDINIT_ALLOW_MAX,
                                 pp,
                                 CLOUDINIT_PACKAGES_MAX};
    TH_EQ_INT(cloudinit_bake_render(&doc, &in, NULL), DP_OK);
    TH_CHECK(doc.len > 0 && doc.len < CLOUDINIT_USER_DATA_MAX);
    cloudinit_wipe(&doc);
    url[CLOUDINIT_URL_MAX] = 'u'; /* one byte more */
    TH_EQ_INT(cloudinit_bake_render(&doc, &in, NULL), DP_EINVAL);
}

enum bfield { B_URL, B_SHA, B_KEY, B_PKG };

struct bake_refusal {
    enum bfield field;
    const char *value;
    const char *code, *prefix;
};

static const struct bake_refusal bake_refusals[] = {
    {B_URL, NULL, "invalid_agent_url", "agent_url:"},
    {B_URL, "", "invalid_agent_url", "agent_url:"},
    {B_URL, "ftp://203.0.113.5/p.tgz", "invalid_agent_url", "agent_url:"},
    {B_URL, "http://", "invalid_agent_url", "agent_url:"},
    {B_URL, "http:///p.tgz", "invalid_agent_url", "agent_url:"},
    {B_URL, "HTTP://h/p.tgz", "invalid_agent_url", "agent_url:"},
    {B_URL, "http://h/a b", "invalid_agent_url", "agent_url:"},
    {B_URL, "http://h/a\"b", "invalid_agent_url", "agent_url:"},
    {B_URL, "http://h/a'b", "invalid_agent_url", "agent_url:"},
    {B_URL, "http://h/$(id)", "invalid_agent_url", "agent_url:"},
    {B_URL, "http://h/`id`", "invalid_agent_url", "agent_url:"},
    {B_URL, "http://h/a\\b", "invalid_agent_url", "agent_url:"},
    {B_URL, "http://h/a\nb", "invalid_agent_url", "agent_url:"},
    {B_URL, "http://h/\xc3\xa9", "invalid_agent_url", "agent_url:"},
    {B_SHA, NULL, "invalid_agent_sha256", "agent_sha256:"},
    {B_SHA, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde",
     "invalid_agent_sha256", "agent_sha256:"},
    {B_SHA, SHA "0", "invalid_agent_sha256", "agent_sha256:"},
    {B_SHA, "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
     "invalid_agent_sha256", "agent_sha256:"},
    {B_SHA, "g123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
     "invalid_agent_sha256", "agent_sha256:"},
    {B_KEY, NULL, "invalid_bake_key", "bake_key:"},
    {B_KEY, "SECRET-short123", "invalid_bake_key", "bake_key:"},
    {B_KEY, "SECRET-bake key-0123", "invalid_bake_key", "bake_key:"},
    {B_KEY, "SECRET-bake-key\n0123", "invalid_bake_key", "bake_key:"},
    {B_PKG, "", "invalid_packages", "packages[1]:"},
    {B_PKG, "Docker", "invalid_packages", "packages[1]:"},
    {B_PKG, "-rf", "invalid_packages", "packages[1]:"},
    {B_PKG, "+x", "invalid_packages", "packages[1]:"},
    {B_PKG, "a b", "invalid_packages", "packages[1]:"},
    {B_PKG, "a;b", "invalid_packages", "packages[1]:"},
    {B_PKG, "a\"b", "invalid_packages", "packages[1]:"},
    {B_PKG, "a/b", "invalid_packages", "packages[1]:"},
    {B_PKG, "a_b", "invalid_packages", "packages[1]:"},
    {B_PKG, "a=1.0", "invalid_packages", "packages[1]:"},
    {B_PKG, "a\nb", "invalid_packages", "packages[1]:"},
};

static void check_bake_refusal(const struct bake_refusal *r, size_t i)
{
    struct cloudinit_bake in = good_bake();
    const char *pkgs[] = {"htop", r->value};
    struct dp_err err = {0};
    struct dp_buf doc;

    if (r->field == B_URL)
        in.agent_url = r->value;
    else if (r->field == B_SHA)
        in.agent_sha256 = r->value;
    else if (r->field == B_KEY)
        in.bake_key = r->value;
    else
        in.packages = pkgs;
    TH_EQ_INT(cloudinit_bake_render(&doc, &in, &err), DP_EINVAL);
    TH_EQ_STR(err.code, r->code);
    TH_CHECK(strncmp(err.msg, r->prefix, strlen(r->prefix)) == 0);
    TH_CHECK(!strstr(err.msg, "SECRET"));
    TH_CHECK(doc.data == NULL && doc.len == 0);
    if (err.rc != DP_EINVAL || strncmp(err.msg, r->prefix, strlen(r->prefix)) != 0)
        fprintf(stderr, "  bake refusal %zu: %s: %s\n", i, err.code, err.msg);
}

static void bake_refusals_name_their_field(void)
{
    for (size_t i = 0; i < sizeof(bake_refusals) / sizeof(bake_refusals[0]); i++)
        check_bake_refusal(&bake_refusals[i], i);
}

static void bake_address_and_count_rules(void)
{
    static const char *many[CLOUDINIT_PACKAGES_MAX + 1];
    const char *bad_ssh[] = {"198.51.100.7", "::1"};
    struct cloudinit_bake in = good_bake();
    struct dp_err err = {0};
    struct dp_buf doc;

    in.nallow = 0;
    TH_EQ_INT(cloudinit_bake_render(&doc, &in, &err), DP_EINVAL);
    TH_EQ_STR(err.code, "invalid_allow");
    in = good_bake();
    in.nallow = CLOUDINIT_ALLOW_MAX + 1;
    TH_EQ_INT(cloudinit_bake_render(&doc, &in, &err), DP_EINVAL);
    TH_EQ_STR(err.code, "invalid_allow");
    in = good_bake();
    in.ssh_allow = bad_ssh;
    in.nssh = 2;
    TH_EQ_INT(cloudinit_bake_render(&doc, &in, &err), DP_EINVAL);
    TH_EQ_STR(err.code, "invalid_ssh_allow");
    TH_CHECK(strncmp(err.msg, "ssh_allow[1]:", 13) == 0);
    in.nssh = CLOUDINIT_ALLOW_MAX + 1;
    TH_EQ_INT(cloudinit_bake_render(&doc, &in, &err), DP_EINVAL);
    TH_EQ_STR(err.code, "invalid_ssh_allow");
    in = good_bake();
    in.ssh_allow = NULL; /* 1 address announced, none given */
    TH_EQ_INT(cloudinit_bake_render(&doc, &in, &err), DP_EINVAL);
    TH_EQ_STR(err.code, "invalid_ssh_allow");
    in = good_bake();
    for (size_t i = 0; i <= CLOUDINIT_PACKAGES_MAX; i++)
        many[i] = "htop";
    in.packages = many;
    in.npackages = CLOUDINIT_PACKAGES_MAX + 1;
    TH_EQ_INT(cloudinit_bake_render(&doc, &in, &err), DP_EINVAL);
    TH_EQ_STR(err.code, "invalid_packages");
    in.npackages = CLOUDINIT_PACKAGES_MAX;
    TH_EQ_INT(cloudinit_bake_render(&doc, &in, &err), DP_OK);
    cloudinit_wipe(&doc);
}

int main(void)
{
    TH_RUN(renders_known_bytes);
    TH_RUN(no_hostname_drops_its_line);
    TH_RUN(awkward_values_are_quoted);
    TH_RUN(pem_without_final_newline_strips);
    TH_RUN(each_refusal_names_its_field);
    TH_RUN(null_values_are_refused);
    TH_RUN(allow_rules);
    TH_RUN(limit_is_64_kib);
    TH_RUN(template_machinery);
    TH_RUN(embedded_templates);
    TH_RUN(pem_chain_limit);
    TH_RUN(bake_renders_values_in_place);
    TH_RUN(bake_without_ssh_or_packages);
    TH_RUN(bake_at_every_maximum_fits);
    TH_RUN(bake_refusals_name_their_field);
    TH_RUN(bake_address_and_count_rules);
    TH_EXIT();
}
