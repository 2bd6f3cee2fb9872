/* A transport for the SDK's examples: the xen_call_func that POSTs each
 * XML-RPC request with libcurl, reusing one connection (HTTP keep-alive)
 * for every call of a session. */
#ifndef XEN_EXAMPLE_CURL_TRANSPORT_H
#define XEN_EXAMPLE_CURL_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>

#include <xen/api/xen_common.h>

struct curl_transport;

/* A transport to url ("http://host:port/"); NULL if libcurl fails. With
 * insecure, an https server's certificate is not checked. */
struct curl_transport *curl_transport_new(const char *url, bool insecure);
/* Frees the transport and closes its connection; NULL is allowed. */
void curl_transport_free(struct curl_transport *t);

/* The xen_call_func: pass it to the login with the transport as handle.
 * Returns 0, or the libcurl error code, or the HTTP status if it is not
 * 200. Blocks for the round trip. */
int curl_transport_call(const void *data, size_t len, void *user_handle, void *result_handle,
                        xen_result_func result_func);

#endif
