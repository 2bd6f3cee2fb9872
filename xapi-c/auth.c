/* Password checks against a credentials file (see auth.h). */
#include "auth.h"

#include <crypt.h>
#include <errno.h>
#include <security/pam_appl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

/* PAM asks its questions through this: every password prompt gets pwd. */
static int pam_answer(int n, const struct pam_message **msg, struct pam_response **resp, void *data)
{
    struct pam_response *r = calloc((size_t)n, sizeof(*r));
    if (!r)
        return PAM_BUF_ERR;
    for (int i = 0; i < n; i++)
        if (msg[i]->msg_style == PAM_PROMPT_ECHO_OFF || msg[i]->msg_style == PAM_PROMPT_ECHO_ON)
            r[i].resp = strdup((const char *)data);
    *resp = r;
    return PAM_SUCCESS;
}

static int pam_check(const char *user, const char *pwd)
{
    struct pam_conv conv = {pam_answer, (void *)pwd};
    pam_handle_t *h = NULL;
    int rc = pam_start(AUTH_PAM_SERVICE, user, &conv, &h);
    if (rc != PAM_SUCCESS)
        return -EIO;
    rc = pam_authenticate(h, PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK);
    if (rc == PAM_SUCCESS)
        rc = pam_acct_mgmt(h, PAM_SILENT);
    pam_end(h, rc);
    switch (rc) {
    case PAM_SUCCESS:
        return 0;
    case PAM_USER_UNKNOWN:
        return -ENOENT;
    case PAM_AUTH_ERR:
    case PAM_PERM_DENIED:
    case PAM_ACCT_EXPIRED:
    case PAM_NEW_AUTHTOK_REQD:
    case PAM_MAXTRIES:
        return -EACCES;
    default:
        return -EIO;
    }
}

int auth_check_password(const char *credentials_path, const char *user, const char *pwd)
{
    FILE *f;
    char *line = NULL;
    size_t cap = 0;
    int r = -ENOENT;

    if (!credentials_path)
        return pam_check(user, pwd);
    f = fopen(credentials_path, "re");
    if (!f)
        return -errno;
    while (getline(&line, &cap, f) > 0) {
        line[strcspn(line, "\r\n")] = '\0';
        char *colon = strchr(line, ':');
        if (!colon)
            continue;
        *colon = '\0';
        if (!streq(line, user))
            continue;
        struct crypt_data *cd = xcalloc(1, sizeof(*cd));
        const char *h = crypt_r(pwd, colon + 1, cd);
        r = h && h[0] != '*' && streq(h, colon + 1) ? 0 : -EACCES;
        explicit_bzero(cd, sizeof(*cd));
        free(cd);
        break;
    }
    free(line);
    fclose(f);
    return r;
}

char *auth_hash_password(const char *pwd)
{
    char salt[CRYPT_GENSALT_OUTPUT_SIZE];
    struct crypt_data *cd;
    char *out = NULL;

    if (!crypt_gensalt_rn("$6$", 0, NULL, 0, salt, sizeof(salt)))
        return NULL;
    cd = xcalloc(1, sizeof(*cd));
    const char *h = crypt_r(pwd, salt, cd);
    if (h && h[0] != '*')
        out = xstrdup(h);
    explicit_bzero(cd, sizeof(*cd));
    free(cd);
    return out;
}
