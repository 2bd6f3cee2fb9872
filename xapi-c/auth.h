/* Password checks for session.login_with_password. A development host
 * keeps a credentials file of "user:hash" lines, the hash in crypt(3)'s
 * SHA-512 form ($6$...); an installed host asks PAM (service "xapi", as on
 * XCP-ng), so root logs in with the host's own root password. */
#pragma once

#define AUTH_PAM_SERVICE "xapi"

/* Returns 0 if pwd is the password of user, -EACCES if not, -ENOENT if the
 * user is unknown, another negative errno if the check could not run. With
 * credentials_path NULL the check goes to PAM. Blocks (PAM may be slow). */
int auth_check_password(const char *credentials_path, const char *user, const char *pwd);

/* Makes a SHA-512 crypt(3) hash of pwd with a random salt; newly
 * allocated, or NULL on failure. */
char *auth_hash_password(const char *pwd);
