/* /v2/account, /v2/regions, /v2/sizes and SSH keys. */
#include "dosim_routes.h"

#include "dosim_model.h"

#include "dp_json.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MSG_KEY_FORMAT "Key invalid, key should be of the format `type key [comment]`"

int dosim_h_account(struct dp_req *rq)
{
    struct dosim_req *r = dosim_req_of(rq);
    char uuid[48], team[48];

    snprintf(uuid, sizeof(uuid), "d0517e5a%s%s%s%s00", r->sim->sim_id, r->sim->sim_id,
             r->sim->sim_id, r->sim->sim_id);
    snprintf(team, sizeof(team), "5e1ec7ed-%.4s-4a11-8e5e-%s00000a", r->sim->sim_id,
             r->sim->sim_id);
    return dosim_reply(r, 200,
                       json_pack("{s:{s:i, s:i, s:s, s:s, s:s, s:b, s:s, s:s, s:{s:s, s:s}}}",
                                 "account", "droplet_limit", r->sim->conf.droplet_limit,
                                 "floating_ip_limit", 3, "email", "dosim@example.com", "name",
                                 "dosim", "uuid", uuid, "email_verified", 1, "status", "active",
                                 "status_message", "", "team", "uuid", team, "name", "My Team"));
}

int dosim_h_regions(struct dp_req *rq)
{
    json_t *all = json_array();

    for (size_t i = 0; i < dosim_regions_count; i++)
        json_array_append_new(all, dosim_region_json(&dosim_regions[i]));
    return dosim_reply_list(dosim_req_of(rq), "regions", all);
}

int dosim_h_sizes(struct dp_req *rq)
{
    json_t *all = json_array();

    for (size_t i = 0; i < dosim_sizes_count; i++)
        json_array_append_new(all, dosim_size_json(&dosim_sizes[i]));
    return dosim_reply_list(dosim_req_of(rq), "sizes", all);
}

int dosim_h_keys_list(struct dp_req *rq)
{
    struct dosim_req *r = dosim_req_of(rq);
    json_t *all = json_array();

    pthread_mutex_lock(&r->sim->mu);
    for (size_t i = 0; i < r->sim->st.keys.n; i++)
        json_array_append_new(all, dosim_key_json(r->sim->st.keys.v[i]));
    pthread_mutex_unlock(&r->sim->mu);
    return dosim_reply_list(r, "ssh_keys", all);
}

/* "type base64 [comment]" -> the MD5 fingerprint of the key blob, "aa:bb:...". */
static bool key_fingerprint(char *out, size_t size, const char *pub)
{
    char type[64], b64[DOSIM_PUBKEY_MAX];
    unsigned char *blob, md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    size_t len;
    int n;

    if (sscanf(pub, "%63s %16383s", type, b64) != 2 ||
        (strncmp(type, "ssh-", 4) != 0 && strncmp(type, "ecdsa-", 6) != 0 &&
         strncmp(type, "sk-", 3) != 0))
        return false;
    len = strlen(b64);
    if (len % 4 ||
        strspn(b64, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") != len)
        return false;
    blob = malloc(len / 4 * (size_t)3 + 1);
    n = blob ? EVP_DecodeBlock(blob, (unsigned char *)b64, (int)len) : -1;
    if (n > 0)
        n -= (len > 0 && b64[len - 1] == '=') + (len > 1 && b64[len - 2] == '=');
    if (n > 0)
        EVP_Digest(blob, (size_t)n, md, &mdlen, EVP_md5(), NULL);
    free(blob);
    if (n <= 0 || mdlen == 0 || (size_t)3 * mdlen > size)
        return false;
    for (size_t i = 0; i < mdlen; i++)
        snprintf(out + 3 * i, size - 3 * i, "%02x%s", md[i], i + 1 < mdlen ? ":" : "");
    return true;
}

/* Under mu: makes the key or says why not. */
static const char *key_add(struct dosim *sim, const char *name, const char *pub,
                           struct dosim_key **out)
{
    struct dosim_key *k;
    char fp[64];

    if (!key_fingerprint(fp, sizeof(fp), pub))
        return MSG_KEY_FORMAT;
    if (dosim_key_find(&sim->st, fp))
        return "SSH Key is already in use on your account";
    if (sim->st.keys.n >= DOSIM_KEYS_MAX)
        return "You have reached the maximum number of SSH keys.";
    k = calloc(1, sizeof(*k));
    if (!k || !(k->public_key = strdup(pub)) || !dosim_vec_push(&sim->st.keys, k)) {
        if (k)
            free(k->public_key);
        free(k);
        return "out of memory";
    }
    k->id = sim->st.next_key++;
    snprintf(k->name, sizeof(k->name), "%s", name);
    snprintf(k->fingerprint, sizeof(k->fingerprint), "%s", fp);
    *out = k;
    dosim_changed(sim);
    return NULL;
}

int dosim_h_key_create(struct dp_req *rq)
{
    struct dosim_req *r = dosim_req_of(rq);
    const json_t *body;
    const char *name, *pub, *why;
    struct dosim_key *k = NULL;
    json_t *ans = NULL;
    int st = dosim_body(r, &body);

    if (st)
        return st;
    if (dp_json_get_str(&name, body, "name", true, DOSIM_NAME_MAX, NULL) || !*name)
        return dosim_reply_422(r, "Name is required");
    if (dp_json_get_str(&pub, body, "public_key", true, DOSIM_PUBKEY_MAX - 1, NULL))
        return dosim_reply_422(r, MSG_KEY_FORMAT);
    pthread_mutex_lock(&r->sim->mu);
    why = key_add(r->sim, name, pub, &k);
    if (!why)
        ans = json_pack("{s:o}", "ssh_key", dosim_key_json(k));
    pthread_mutex_unlock(&r->sim->mu);
    return why ? dosim_reply_422(r, why) : dosim_reply(r, 201, ans);
}

static struct dosim_key *key_param(struct dosim_req *r)
{
    char id[128];

    return dosim_param_str(r, 0, id, sizeof(id)) ? dosim_key_find(&r->sim->st, id) : NULL;
}

int dosim_h_key_get(struct dp_req *rq)
{
    struct dosim_req *r = dosim_req_of(rq);
    struct dosim_key *k;
    json_t *ans = NULL;

    pthread_mutex_lock(&r->sim->mu);
    k = key_param(r);
    if (k)
        ans = json_pack("{s:o}", "ssh_key", dosim_key_json(k));
    pthread_mutex_unlock(&r->sim->mu);
    return ans ? dosim_reply(r, 200, ans) : dosim_reply_not_found(r);
}

int dosim_h_key_update(struct dp_req *rq)
{
    struct dosim_req *r = dosim_req_of(rq);
    const json_t *body;
    const char *name = NULL;
    struct dosim_key *k;
    json_t *ans = NULL;
    int st = dosim_body(r, &body);

    if (st)
        return st;
    if (dp_json_get_str(&name, body, "name", false, DOSIM_NAME_MAX, NULL))
        return dosim_reply_422(r, "name must be a string of at most 255 characters");
    pthread_mutex_lock(&r->sim->mu);
    k = key_param(r);
    if (k && name && *name) {
        snprintf(k->name, sizeof(k->name), "%s", name);
        dosim_changed(r->sim);
    }
    if (k)
        ans = json_pack("{s:o}", "ssh_key", dosim_key_json(k));
    pthread_mutex_unlock(&r->sim->mu);
    return ans ? dosim_reply(r, 200, ans) : dosim_reply_not_found(r);
}

int dosim_h_key_delete(struct dp_req *rq)
{
    struct dosim_req *r = dosim_req_of(rq);
    struct dosim_key *k;
    bool found;

    pthread_mutex_lock(&r->sim->mu);
    k = key_param(r);
    found = k != NULL;
    if (k) {
        dosim_vec_remove(&r->sim->st.keys, k);
        free(k->public_key);
        free(k);
        dosim_changed(r->sim);
    }
    pthread_mutex_unlock(&r->sim->mu);
    return found ? dosim_reply(r, 204, NULL) : dosim_reply_not_found(r);
}
