/* Custom messages of class session: login and logout. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xapi-c/api.h"
#include "xapi-c/auth.h"
#include "xapi-c/config.h"
#include "xapi-c/sessions.h"
#include "lib/log.h"
#include "lib/util.h"

LOG_MODULE("session");

static void sleep_seconds(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static struct api_error *login(struct call *c, bool local_only)
{
    const char *user = arg_str(c, 0), *pwd = arg_str(c, 1);
    const char *originator = c->m->n_params > 3 && *arg_str(c, 3) ? arg_str(c, 3) : c->originator;
    char ref[64];

    /* Root on the host's own socket is trusted without a password, as xapi
     * trusts its Unix socket. */
    if (!(c->local && streq(user, "root"))) {
        int r = auth_check_password(xapi_cfg.credentials, user, pwd);
        if (r < 0) {
            log_notice("failed login for user '%s' from %s", user, c->client_addr);
            /* A delay slows password guessing, as xapi does. */
            sleep_seconds(xapi_cfg.auth_fail_delay);
            return api_fail(SESSION_AUTHENTICATION_FAILED, user, "Authentication failure");
        }
    }
    (void)local_only;
    struct api_error *e = session_create(user, originator, streq(user, "root"), false, ref);
    if (e)
        return e;
    log_info("user '%s' logged in from %s", user, c->client_addr);
    out_string(c->out, ref);
    return NULL;
}

static struct api_error *login_with_password(struct call *c)
{
    return login(c, false);
}

static struct api_error *slave_local_login_with_password(struct call *c)
{
    return login(c, true);
}

static struct api_error *logout(struct call *c)
{
    struct api_error *e = session_destroy(arg_str(c, 0));
    if (!e)
        out_void(c->out);
    return e;
}

static struct api_error *get_all_subject_identifiers(struct call *c)
{
    out_array_begin(c->out);
    out_array_end(c->out);
    return NULL;
}

void session_register(void);
void session_register(void)
{
    api_register(M_session_login_with_password, login_with_password);
    api_register(M_session_slave_local_login_with_password, slave_local_login_with_password);
    api_register(M_session_logout, logout);
    api_register(M_session_local_logout, logout);
    api_register(M_session_get_all_subject_identifiers, get_all_subject_identifiers);
}
