/* Password checks for session.login_with_password. A development host
 * keeps a credentials file of "user:hash" lines, the hash in crypt(3)'s
 * SHA-512 form ($6$...); an installed host uses PAM (not built yet). */
#pragma once

/* Returns 0 if pwd is the password of user, -EACCES if not, -ENOENT if the
 * user is unknown, another negative errno if the check could not run. */
int auth_check_password(const char *credentials_path, const char *user, const char *pwd);

/* Makes a SHA-512 crypt(3) hash of pwd with a random salt; newly
 * allocated, or NULL on failure. */
char *auth_hash_password(const char *pwd);
