/* The host's TLS identity: a self-signed certificate made with OpenSSL at
 * first start and kept in one PEM file (private key, then certificate), as
 * xapi keeps /etc/xensource/xapi-ssl.pem. */
#pragma once

/* Makes sure path holds a usable key and certificate: a file that OpenSSL
 * reads as a private key and a certificate belonging to it is kept as it
 * is. If the file is missing or unusable, generates a key (EC P-256), a
 * self-signed certificate for hostname (also valid for localhost and
 * 127.0.0.1) good for ten years, and writes both as PEM, key first (mode
 * 0600, atomically through path.tmp). A file that cannot be opened for
 * another reason (e.g. -EACCES) is not replaced. Blocks on disk I/O.
 * Returns 0 or a negative errno. */
int tls_ensure_certificate(const char *path, const char *hostname);

/* Reads the SHA-256 fingerprint of the (first) certificate in path, over
 * its DER form, as upper-case hex pairs joined by ':' ("AB:CD:...", 95
 * characters) into a newly allocated string that the caller frees. Returns
 * 0, -ENOENT if there is no file, -EINVAL if it holds no certificate, or
 * another negative errno. */
int tls_certificate_fingerprint(const char *path, char **ret);
