/* Password checks against a credentials file (see auth.h). */
#include "auth.h"

#include <crypt.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

int auth_check_password(const char *credentials_path, const char *user, const char *pwd)
{
    FILE *f;
    char *line = NULL;
    size_t cap = 0;
    int r = -ENOENT;

    if (!credentials_path)
        return -EOPNOTSUPP;
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
